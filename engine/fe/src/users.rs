//! Users, passwords and grants. Passwords are kept as mysql_native_password stores them,
//! SHA1(SHA1(password)), so the FE never holds a password in clear.

use cairn_common::ErrorCode;
use cairn_sql::ast::{GrantTarget, UserIdentity};

use crate::catalog::{JournalEntry, User};
use crate::error::FeError;
use crate::frontend::Frontend;

const ROLES: [&str; 5] = ["root", "db_admin", "user_admin", "public", "read_only"];

fn password_hash(password: &str) -> Vec<u8> {
    if password.is_empty() {
        Vec::new()
    } else {
        cairn_mysql::native_password_hash(password).to_vec()
    }
}

/// Whether `user` may change data or schema in `database`: an admin role, or a grant of a
/// writing privilege on it.
pub fn may_write(user: &User, database: &str) -> bool {
    user.roles.iter().any(|role| role == "root" || role == "db_admin")
        || user.privileges.iter().any(|(grant_database, _, privilege)| {
            (grant_database == "*" || grant_database == database)
                && matches!(privilege.as_str(), "ALL" | "INSERT" | "DELETE" | "CREATE" | "DROP" | "ALTER" | "LOAD")
        })
}

fn find_user(frontend: &Frontend, name: &str, host: &str) -> Option<User> {
    frontend
        .metadata
        .read()
        .users
        .iter()
        .find(|user| user.name == name && user.host == host)
        .cloned()
}

pub fn create_user(
    frontend: &Frontend,
    identity: &UserIdentity,
    if_not_exists: bool,
    password: Option<&str>,
    default_role: Option<String>,
) -> Result<(), FeError> {
    if find_user(frontend, &identity.name, &identity.host).is_some() {
        if if_not_exists {
            return Ok(());
        }
        return Err(FeError::user(
            ErrorCode::CANNOT_USER,
            format!("Operation CREATE USER failed for '{}'@'{}'", identity.name, identity.host),
        ));
    }
    let roles = match default_role {
        Some(role) => {
            check_role(&role)?;
            vec![role]
        }
        None => vec!["public".to_string()],
    };
    frontend.metadata.log(JournalEntry::CreateUser {
        user: User {
            name: identity.name.clone(),
            host: identity.host.clone(),
            password_hash: password_hash(password.unwrap_or("")),
            roles,
            privileges: Vec::new(),
        },
    })
}

pub fn set_password(frontend: &Frontend, name: &str, host: &str, password: &str) -> Result<(), FeError> {
    let mut user = find_user(frontend, name, host).ok_or_else(|| {
        FeError::user(ErrorCode::CANNOT_USER, format!("Operation ALTER USER failed for '{name}'@'{host}'"))
    })?;
    let hash = password_hash(password);
    // Setting the same password again changes nothing, so nothing is journaled (the
    // operator re-asserts its users on every reconcile).
    if user.password_hash == hash {
        return Ok(());
    }
    user.password_hash = hash;
    frontend.metadata.log(JournalEntry::AlterUser { user })
}

pub fn drop_user(frontend: &Frontend, identity: &UserIdentity, if_exists: bool) -> Result<(), FeError> {
    if identity.name == "root" {
        return Err(FeError::analysis("the root user can not be dropped"));
    }
    if find_user(frontend, &identity.name, &identity.host).is_none() {
        if if_exists {
            return Ok(());
        }
        return Err(FeError::user(
            ErrorCode::CANNOT_USER,
            format!("Operation DROP USER failed for '{}'@'{}'", identity.name, identity.host),
        ));
    }
    frontend.metadata.log(JournalEntry::DropUser {
        name: identity.name.clone(),
        host: identity.host.clone(),
    })
}

fn check_role(role: &str) -> Result<(), FeError> {
    if ROLES.contains(&role) {
        Ok(())
    } else {
        Err(FeError::analysis(format!(
            "Role '{role}' does not exist; the built-in roles are {}",
            ROLES.join(", ")
        )))
    }
}

pub fn grant(frontend: &Frontend, target: &GrantTarget, identity: &UserIdentity, grant: bool) -> Result<(), FeError> {
    let mut user = find_user(frontend, &identity.name, &identity.host).ok_or_else(|| {
        FeError::user(
            ErrorCode::CANNOT_USER,
            format!("user '{}'@'{}' does not exist", identity.name, identity.host),
        )
    })?;
    let mut changed = false;
    match target {
        GrantTarget::Role { role } => {
            check_role(role)?;
            let held = user.roles.contains(role);
            if grant && !held {
                user.roles.push(role.clone());
                changed = true;
            } else if !grant && held {
                user.roles.retain(|existing| existing != role);
                changed = true;
            }
        }
        GrantTarget::Privileges { privileges, database, table } => {
            for privilege in privileges {
                let privilege = privilege.to_uppercase();
                let entry = (database.clone(), table.clone(), privilege);
                let held = user.privileges.contains(&entry);
                if grant && !held {
                    user.privileges.push(entry);
                    changed = true;
                } else if !grant && held {
                    user.privileges.retain(|existing| existing != &entry);
                    changed = true;
                }
            }
        }
    }
    // A grant already held (or a revoke of one not held) changes nothing to journal.
    if !changed {
        return Ok(());
    }
    frontend.metadata.log(JournalEntry::AlterUser { user })
}
