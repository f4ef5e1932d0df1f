//! `SET` in the forms MySQL connectors and StarRocks users send.

use datafusion::sql::sqlparser::ast::{Expr, Ident, Value};
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::ast::{SetAssignment, Statement, VariableScope};
use crate::error::ParseError;
use crate::parser::{StatementParser, unquoted_word};

impl StatementParser<'_> {
    /// `SET item[, item...]`, `SET PASSWORD ...` and `SET [scope] TRANSACTION ...`.
    pub(crate) fn parse_set(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("SET")?;
        // `SET PASSWORD = ...` is the password statement, never a variable named password.
        if self.parse_word("PASSWORD") {
            return Ok(Statement::Set(vec![self.parse_set_password()?]));
        }
        let transaction_follows = self.peek_word_is("TRANSACTION")
            || (self.peek_nth_word_is(1, "TRANSACTION")
                && ["GLOBAL", "SESSION", "LOCAL"]
                    .iter()
                    .any(|scope| self.peek_word_is(scope)));
        if transaction_follows {
            return Ok(Statement::Set(self.parse_set_transaction()?));
        }
        let mut assignments = vec![self.parse_set_item()?];
        while self.consume(&Token::Comma) {
            assignments.push(self.parse_set_item()?);
        }
        Ok(Statement::Set(assignments))
    }

    fn peek_nth_assignment_operator(&self, n: usize) -> bool {
        matches!(self.peek_nth(n).token, Token::Eq | Token::Assignment)
    }

    fn parse_set_item(&mut self) -> Result<SetAssignment, ParseError> {
        if !self.peek_nth_assignment_operator(1) {
            if self.parse_word("NAMES") {
                let charset = self.parse_charset_name()?;
                let collation = if self.parse_word("COLLATE") {
                    Some(self.parse_charset_name()?)
                } else {
                    None
                };
                return Ok(SetAssignment::Names { charset, collation });
            }
            if self.parse_words(&["CHARACTER", "SET"]) || self.parse_word("CHARSET") {
                let charset = self.parse_charset_name()?;
                return Ok(SetAssignment::Names {
                    charset,
                    collation: None,
                });
            }
        }
        let name_location = self.location();
        let Token::Word(first) = self.peek().token.clone() else {
            return Err(self.expected("a variable name"));
        };
        let is_user_variable = first.quote_style.is_none()
            && first.value.starts_with('@')
            && !first.value.starts_with("@@");
        if is_user_variable {
            self.parser.advance_token();
            let name = first.value.trim_start_matches('@').to_string();
            if name.is_empty() {
                return Err(
                    self.syntax_error_at(name_location, "Expected a user variable name after '@'")
                );
            }
            let value = self.parse_assignment_value()?;
            return Ok(SetAssignment::UserVariable { name, value });
        }
        let (scope, name) = self.parse_system_variable_name()?;
        let value = self.parse_assignment_value()?;
        Ok(SetAssignment::Variable { scope, name, value })
    }

    /// `[GLOBAL|SESSION|LOCAL] name`, `@@name` or `@@global.name`: the scope and the
    /// lower-cased bare name.
    fn parse_system_variable_name(&mut self) -> Result<(VariableScope, String), ParseError> {
        let mut scope = VariableScope::Session;
        if !self.peek_nth_assignment_operator(1) {
            match self.parse_one_of_words(&["GLOBAL", "SESSION", "LOCAL"]) {
                Some("GLOBAL") => scope = VariableScope::Global,
                Some(_) => scope = VariableScope::Session,
                None => {}
            }
        }
        let name_location = self.location();
        let mut name = self.parse_identifier("a variable name")?;
        if let Some(bare) = name.strip_prefix("@@") {
            let bare = bare.to_string();
            // `@@global.x`: the prefix is the scope when a dot follows.
            if self.peek_token_is(&Token::Period) {
                scope = match bare.to_ascii_lowercase().as_str() {
                    "global" => VariableScope::Global,
                    "session" | "local" => VariableScope::Session,
                    _ => {
                        return Err(self.syntax_error_at(
                            name_location,
                            &format!("Unknown variable scope '{bare}': use GLOBAL or SESSION"),
                        ));
                    }
                };
                self.expect_token(&Token::Period)?;
                name = self.parse_identifier("a variable name")?;
            } else {
                name = bare;
            }
        }
        if name.is_empty() {
            return Err(self.syntax_error_at(name_location, "Expected a variable name"));
        }
        Ok((scope, name.to_ascii_lowercase()))
    }

    /// `= value` or `:= value`. A lone word such as `ON` or `utf8mb4` is an identifier (MySQL
    /// reads it as the string of the same name), which sqlparser would refuse for keywords.
    fn parse_assignment_value(&mut self) -> Result<Expr, ParseError> {
        if !self.consume(&Token::Eq) && !self.consume(&Token::Assignment) {
            return Err(self.expected("'='"));
        }
        let lone_word = unquoted_word(&self.peek().token)
            .filter(|word| {
                !["TRUE", "FALSE", "NULL"]
                    .iter()
                    .any(|literal| word.eq_ignore_ascii_case(literal))
            })
            .map(str::to_string);
        let next_ends_the_value = matches!(self.peek_nth(1).token, Token::Comma | Token::EOF);
        if let Some(word) = lone_word
            && next_ends_the_value
        {
            self.parser.advance_token();
            return Ok(Expr::Identifier(Ident::new(word)));
        }
        self.with_sqlparser(|parser| parser.parse_expr())
    }

    /// A character set or collation: a word, a quoted string or DEFAULT.
    fn parse_charset_name(&mut self) -> Result<String, ParseError> {
        self.parse_string_or_identifier("a character set name")
    }

    /// After `SET PASSWORD`: `[FOR user] = PASSWORD('x')` or `= 'x'`.
    fn parse_set_password(&mut self) -> Result<SetAssignment, ParseError> {
        let user = if self.parse_word("FOR") {
            Some(self.parse_user_identity()?)
        } else {
            None
        };
        self.expect_token(&Token::Eq)?;
        let password_location = self.location();
        let password = if self.parse_word("PASSWORD") {
            self.expect_token(&Token::LParen)?;
            let password = self.parse_string("a password in quotes")?;
            self.expect_token(&Token::RParen)?;
            password
        } else {
            let password = self.parse_string("PASSWORD('...') or a password in quotes")?;
            if is_native_password_hash(&password) {
                return Err(self.unsupported(
                    password_location,
                    "Setting a password by its hash (use PASSWORD('plain text'))",
                ));
            }
            password
        };
        Ok(SetAssignment::Password { user, password })
    }

    /// After `SET`: `[GLOBAL|SESSION|LOCAL] TRANSACTION characteristic[, ...]`, as the
    /// variables MySQL sets for them.
    fn parse_set_transaction(&mut self) -> Result<Vec<SetAssignment>, ParseError> {
        let scope = match self.parse_one_of_words(&["GLOBAL", "SESSION", "LOCAL"]) {
            Some("GLOBAL") => VariableScope::Global,
            _ => VariableScope::Session,
        };
        self.expect_word("TRANSACTION")?;
        let mut assignments = Vec::new();
        loop {
            let (name, value) = if self.parse_words(&["ISOLATION", "LEVEL"]) {
                let level = if self.parse_words(&["READ", "COMMITTED"]) {
                    "READ-COMMITTED"
                } else if self.parse_words(&["READ", "UNCOMMITTED"]) {
                    "READ-UNCOMMITTED"
                } else if self.parse_words(&["REPEATABLE", "READ"]) {
                    "REPEATABLE-READ"
                } else if self.parse_word("SERIALIZABLE") {
                    "SERIALIZABLE"
                } else {
                    return Err(self.expected(
                        "READ COMMITTED, READ UNCOMMITTED, REPEATABLE READ or SERIALIZABLE",
                    ));
                };
                ("transaction_isolation", level)
            } else if self.parse_words(&["READ", "ONLY"]) {
                ("transaction_read_only", "ON")
            } else if self.parse_words(&["READ", "WRITE"]) {
                ("transaction_read_only", "OFF")
            } else {
                return Err(self.expected("ISOLATION LEVEL, READ ONLY or READ WRITE"));
            };
            assignments.push(SetAssignment::Variable {
                scope,
                name: name.to_string(),
                value: Expr::Value(Value::SingleQuotedString(value.to_string()).into()),
            });
            if !self.consume(&Token::Comma) {
                return Ok(assignments);
            }
        }
    }
}

/// `*` and 40 hex digits: a mysql_native_password hash rather than a password.
pub(crate) fn is_native_password_hash(text: &str) -> bool {
    text.len() == 41
        && text.starts_with('*')
        && text[1..]
            .chars()
            .all(|character| character.is_ascii_hexdigit())
}
