//! Users and privileges: CREATE/ALTER/DROP USER, GRANT and REVOKE, and the `'user'@'host'`
//! identities they name.

use datafusion::sql::sqlparser::tokenizer::Token;

use crate::ast::{GrantTarget, Statement, UserIdentity};
use crate::error::ParseError;
use crate::parser::{StatementParser, quoted_text};

impl StatementParser<'_> {
    /// `'name'@'host'`, `"name"@"host"`, `` `name`@`host` ``, `name@host` or a bare name
    /// (host `%`). The MySQL tokenizer reads `name@host` as one word and `'name'@host` as a
    /// string followed by the word `@host`, so all those shapes are taken apart here.
    pub(crate) fn parse_user_identity(&mut self) -> Result<UserIdentity, ParseError> {
        let name = match &self.peek().token {
            token if quoted_text(token).is_some() => {
                let name = quoted_text(token).unwrap_or_default().to_string();
                self.parser.advance_token();
                name
            }
            Token::Word(word) if word.quote_style == Some('`') => {
                let name = word.value.clone();
                self.parser.advance_token();
                name
            }
            Token::Word(word) if word.quote_style.is_none() => {
                let text = word.value.clone();
                self.parser.advance_token();
                match text.split_once('@') {
                    Some((name, "")) => {
                        // `name@'host'`: the host is the next token.
                        let host = self.parse_host()?;
                        return Ok(UserIdentity {
                            name: name.to_string(),
                            host,
                        });
                    }
                    Some((name, host)) => {
                        return Ok(UserIdentity {
                            name: name.to_string(),
                            host: host.to_string(),
                        });
                    }
                    None => text,
                }
            }
            _ => return Err(self.expected("a user name")),
        };
        if name.is_empty() {
            return Err(self.syntax_error_here("The user name must not be empty"));
        }
        let host = if self.consume(&Token::AtSign) {
            self.parse_host()?
        } else if let Token::Word(word) = &self.peek().token
            && word.quote_style.is_none()
            && word.value.starts_with('@')
        {
            let host = word.value.trim_start_matches('@').to_string();
            self.parser.advance_token();
            host
        } else {
            "%".to_string()
        };
        Ok(UserIdentity { name, host })
    }

    /// A host after `@`: quoted, a word, or a bare `%`.
    fn parse_host(&mut self) -> Result<String, ParseError> {
        if self.consume(&Token::Mod) {
            return Ok("%".to_string());
        }
        self.parse_string_or_identifier("a host name")
    }

    /// After `CREATE USER`: `[IF NOT EXISTS] user [IDENTIFIED ...] [DEFAULT ROLE role]`.
    pub(crate) fn parse_create_user(&mut self) -> Result<Statement, ParseError> {
        let if_not_exists = self.parse_if_not_exists()?;
        let user = self.parse_user_identity()?;
        let password = if self.peek_word_is("IDENTIFIED") {
            Some(self.parse_identified()?)
        } else {
            None
        };
        let default_role = if self.parse_words(&["DEFAULT", "ROLE"]) {
            let role = self.parse_string_or_identifier("a role name")?;
            if self.peek_token_is(&Token::Comma) {
                return Err(self.unsupported(self.location(), "More than one default role"));
            }
            Some(role)
        } else {
            None
        };
        Ok(Statement::CreateUser {
            user,
            if_not_exists,
            password,
            default_role,
        })
    }

    /// After `ALTER USER`: `user IDENTIFIED ...`.
    pub(crate) fn parse_alter_user(&mut self) -> Result<Statement, ParseError> {
        let _ = self.parse_if_exists()?;
        let user = self.parse_user_identity()?;
        let password = self.parse_identified()?;
        Ok(Statement::AlterUser { user, password })
    }

    /// After `DROP USER`: `[IF EXISTS] user`.
    pub(crate) fn parse_drop_user(&mut self) -> Result<Statement, ParseError> {
        let if_exists = self.parse_if_exists()?;
        let user = self.parse_user_identity()?;
        Ok(Statement::DropUser { user, if_exists })
    }

    /// `IDENTIFIED BY 'p'` or `IDENTIFIED WITH mysql_native_password [BY 'p']`; the
    /// password is the plain text. Password hashes (`BY PASSWORD '*...'`, `AS '*...'`) are
    /// refused, because the AST carries plain passwords only.
    fn parse_identified(&mut self) -> Result<String, ParseError> {
        self.expect_word("IDENTIFIED")?;
        if self.parse_word("WITH") {
            let plugin_location = self.location();
            let plugin = self.parse_string_or_identifier("an authentication plugin")?;
            if !plugin.eq_ignore_ascii_case("mysql_native_password") {
                return Err(self.error_at(
                    plugin_location,
                    format!(
                        "Unsupported authentication plugin '{plugin}': use mysql_native_password"
                    ),
                ));
            }
            if self.peek_word_is("AS") {
                return Err(
                    self.unsupported(self.location(), "IDENTIFIED WITH ... AS (a password hash)")
                );
            }
            if !self.parse_word("BY") {
                // `IDENTIFIED WITH mysql_native_password` alone: an empty password.
                return Ok(String::new());
            }
        } else {
            self.expect_word("BY")?;
        }
        if self.peek_word_is("PASSWORD") {
            return Err(
                self.unsupported(self.location(), "IDENTIFIED BY PASSWORD (a password hash)")
            );
        }
        self.parse_string("a password in quotes")
    }

    /// `GRANT target TO [USER] user`.
    pub(crate) fn parse_grant(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("GRANT")?;
        let target = self.parse_grant_target()?;
        self.expect_word("TO")?;
        let user = self.parse_grantee()?;
        if self.parse_words(&["WITH", "GRANT", "OPTION"]) {
            return Err(self.unsupported(self.location(), "WITH GRANT OPTION"));
        }
        Ok(Statement::Grant { target, user })
    }

    /// `REVOKE target FROM [USER] user`.
    pub(crate) fn parse_revoke(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("REVOKE")?;
        let target = self.parse_grant_target()?;
        self.expect_word("FROM")?;
        let user = self.parse_grantee()?;
        Ok(Statement::Revoke { target, user })
    }

    /// `[USER] user`; granting to a role is refused.
    fn parse_grantee(&mut self) -> Result<UserIdentity, ParseError> {
        if self.peek_word_is("ROLE") {
            return Err(self.unsupported(self.location(), "Granting to a role"));
        }
        let _ = self.parse_word("USER");
        self.parse_user_identity()
    }

    /// A role name, or `privilege[, privilege...] ON object`. Privileges are upper-cased,
    /// multi-word ones joined by a space (`CREATE TABLE`); `ALL PRIVILEGES` is `ALL`.
    fn parse_grant_target(&mut self) -> Result<GrantTarget, ParseError> {
        // Each item as written; upper-cased later if they turn out to be privileges.
        let mut items: Vec<String> = Vec::new();
        loop {
            let mut words: Vec<String> = Vec::new();
            loop {
                match &self.peek().token {
                    Token::Word(word)
                        if word.quote_style.is_none()
                            && !["ON", "TO", "FROM"]
                                .iter()
                                .any(|stop| word.value.eq_ignore_ascii_case(stop)) =>
                    {
                        words.push(word.value.clone());
                        self.parser.advance_token();
                    }
                    Token::Word(word) if word.quote_style == Some('`') && words.is_empty() => {
                        words.push(word.value.clone());
                        self.parser.advance_token();
                        break;
                    }
                    token if words.is_empty() && quoted_text(token).is_some() => {
                        words.push(quoted_text(token).unwrap_or_default().to_string());
                        self.parser.advance_token();
                        break;
                    }
                    _ => break,
                }
            }
            if words.is_empty() {
                return Err(self.expected("a privilege or a role name"));
            }
            items.push(words.join(" "));
            if !self.consume(&Token::Comma) {
                break;
            }
        }
        if !self.parse_word("ON") {
            // `GRANT role TO user`: roles are case-sensitive, so the name stays as written.
            if items.len() > 1 {
                return Err(
                    self.unsupported(self.location(), "Granting more than one role at once")
                );
            }
            let role = items.pop().unwrap_or_default();
            return Ok(GrantTarget::Role { role });
        }
        let privileges = items
            .into_iter()
            .map(|item| match item.to_ascii_uppercase().as_str() {
                "ALL PRIVILEGES" => "ALL".to_string(),
                privilege => privilege.to_string(),
            })
            .collect();
        let (database, table) = self.parse_grant_object()?;
        Ok(GrantTarget::Privileges {
            privileges,
            database,
            table,
        })
    }

    /// After `ON`: `*.*`, `*`, `db.*`, `db.t`, `[TABLE] db.t`, `DATABASE db`,
    /// `ALL TABLES IN DATABASE db` or `ALL TABLES IN ALL DATABASES`.
    fn parse_grant_object(&mut self) -> Result<(String, String), ParseError> {
        if self.parse_words(&["ALL", "TABLES", "IN"]) {
            if self.parse_words(&["ALL", "DATABASES"]) {
                return Ok(("*".to_string(), "*".to_string()));
            }
            self.expect_word("DATABASE")?;
            return Ok((self.parse_database_name()?, "*".to_string()));
        }
        if self.parse_words(&["ALL", "DATABASES"]) {
            return Ok(("*".to_string(), "*".to_string()));
        }
        if self.parse_word("DATABASE") {
            return Ok((self.parse_database_name()?, "*".to_string()));
        }
        let _ = self.parse_word("TABLE");
        let object_location = self.location();
        let database = self.parse_grant_name_part("a database name or *")?;
        if !self.consume(&Token::Period) {
            if database == "*" {
                return Ok(("*".to_string(), "*".to_string()));
            }
            return Err(self.error_at(
                object_location,
                format!("Name the database of '{database}': use db.table, db.* or *.*"),
            ));
        }
        let table = self.parse_grant_name_part("a table name or *")?;
        if database == "*" && table != "*" {
            return Err(self.error_at(object_location, "Use *.* for all tables of all databases"));
        }
        Ok((database, table))
    }

    fn parse_grant_name_part(&mut self, what: &str) -> Result<String, ParseError> {
        if self.consume(&Token::Mul) {
            return Ok("*".to_string());
        }
        self.parse_identifier(what)
    }
}
