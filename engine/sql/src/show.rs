//! SHOW statements and DESCRIBE, in the forms StarRocks documents and MySQL connectors send.

use datafusion::sql::sqlparser::tokenizer::Token;

use crate::ast::{ShowFilter, Statement, VariableScope};
use crate::error::ParseError;
use crate::parser::StatementParser;

impl StatementParser<'_> {
    pub(crate) fn parse_show(&mut self) -> Result<Statement, ParseError> {
        let show_location = self.location();
        self.expect_word("SHOW")?;
        let full = self.parse_word("FULL");
        if self.parse_word("TABLES") {
            let database = self.parse_optional_from_database()?;
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowTables {
                full,
                database,
                filter,
            });
        }
        if self.parse_one_of_words(&["COLUMNS", "FIELDS"]).is_some() {
            if self.parse_one_of_words(&["FROM", "IN"]).is_none() {
                return Err(self.expected("FROM or IN"));
            }
            let mut table = self.parse_qualified_name("a table name")?;
            if let Some(database) = self.parse_optional_from_database()? {
                table.database = Some(database);
            }
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowColumns {
                full,
                table,
                filter,
            });
        }
        if self.parse_word("PROCESSLIST") {
            return Ok(Statement::ShowProcesslist { full });
        }
        if full {
            return Err(self.expected("TABLES, COLUMNS, FIELDS or PROCESSLIST after SHOW FULL"));
        }
        if self.parse_one_of_words(&["DATABASES", "SCHEMAS"]).is_some() {
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowDatabases { filter });
        }
        if self.parse_word("CREATE") {
            if self.parse_word("TABLE") {
                let table = self.parse_qualified_name("a table name")?;
                return Ok(Statement::ShowCreateTable { table });
            }
            if self.parse_one_of_words(&["DATABASE", "SCHEMA"]).is_some() {
                let name = self.parse_database_name()?;
                return Ok(Statement::ShowCreateDatabase { name });
            }
            return Err(self.expected("TABLE or DATABASE"));
        }
        let scope = match self.parse_one_of_words(&["GLOBAL", "SESSION", "LOCAL"]) {
            Some("GLOBAL") => Some(VariableScope::Global),
            Some(_) => Some(VariableScope::Session),
            None => None,
        };
        if self.parse_word("VARIABLES") {
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowVariables {
                scope: scope.unwrap_or(VariableScope::Session),
                filter,
            });
        }
        if self.parse_word("STATUS") {
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowStatus { filter });
        }
        if scope.is_some() {
            return Err(self.expected("VARIABLES or STATUS"));
        }
        if self.parse_word("PARTITIONS") {
            self.expect_word("FROM")?;
            let table = self.parse_qualified_name("a table name")?;
            return Ok(Statement::ShowPartitions { table });
        }
        if self.parse_one_of_words(&["TABLET", "TABLETS"]).is_some() {
            if !self.parse_word("FROM") {
                return Err(self.expected("FROM (SHOW TABLET by id is not supported yet)"));
            }
            let table = self.parse_qualified_name("a table name")?;
            return Ok(Statement::ShowTablets { table });
        }
        if self.parse_word("BACKENDS") {
            return Ok(Statement::ShowBackends);
        }
        if self.parse_word("FRONTENDS") {
            return Ok(Statement::ShowFrontends);
        }
        if self.parse_word("DATA") {
            let table = if self.parse_word("FROM") {
                Some(self.parse_qualified_name("a table name")?)
            } else {
                None
            };
            return Ok(Statement::ShowData { table });
        }
        if self.parse_word("GRANTS") {
            let user = if self.parse_word("FOR") {
                Some(self.parse_user_identity()?)
            } else {
                None
            };
            return Ok(Statement::ShowGrants { user });
        }
        if self.peek_word_is("ROUTINE") || (self.peek_word_is("ALL") && self.peek_nth_word_is(1, "ROUTINE")) {
            return self.parse_show_routine_load();
        }
        if self.parse_word("LOAD") {
            let database = self.parse_optional_from_database()?;
            let filter = self.parse_show_filter()?;
            let limit = if self.parse_word("LIMIT") {
                Some(self.parse_unsigned_integer("a row count after LIMIT")?)
            } else {
                None
            };
            return Ok(Statement::ShowLoad { database, filter, limit });
        }
        if self.parse_word("USERS") {
            return Ok(Statement::ShowUsers);
        }
        if let Some(what) = self.parse_show_fixed_name()? {
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowFixed { what, filter });
        }
        match self.peek_word() {
            Some(word) => {
                let mut what = format!("SHOW {}", word.to_ascii_uppercase());
                if let Some(second) = crate::parser::unquoted_word(&self.peek_nth(1).token) {
                    what = format!("{what} {}", second.to_ascii_uppercase());
                }
                Err(self.unsupported(show_location, &what))
            }
            None => Err(self.expected("what to show, such as DATABASES or TABLES")),
        }
    }

    /// The statements with fixed answers, named in lower case (`CHARSET` and `CHARACTER SET`
    /// are both `charset`; `INDEX`, `INDEXES` and `KEYS` are all `index`). Their arguments
    /// (`FROM db`, `LIMIT n`) do not change the answer and are skipped.
    fn parse_show_fixed_name(&mut self) -> Result<Option<String>, ParseError> {
        let what = if self.parse_word("ENGINES") || self.parse_words(&["STORAGE", "ENGINES"]) {
            "engines"
        } else if self.parse_word("CHARSET") || self.parse_words(&["CHARACTER", "SET"]) {
            "charset"
        } else if self.parse_word("COLLATION") {
            "collation"
        } else if self.parse_word("PLUGINS") {
            "plugins"
        } else if let Some(word) = self.parse_one_of_words(&["WARNINGS", "ERRORS"]) {
            if self.parse_word("LIMIT") {
                self.parse_unsigned_integer("a row count")?;
                if self.consume(&Token::Comma) {
                    self.parse_unsigned_integer("a row count")?;
                }
            }
            return Ok(Some(word.to_ascii_lowercase()));
        } else if self.parse_words(&["TABLE", "STATUS"]) {
            self.parse_optional_from_database()?;
            "table status"
        } else if self
            .parse_one_of_words(&["INDEX", "INDEXES", "KEYS"])
            .is_some()
        {
            if self.parse_one_of_words(&["FROM", "IN"]).is_none() {
                return Err(self.expected("FROM or IN"));
            }
            self.parse_qualified_name("a table name")?;
            self.parse_optional_from_database()?;
            "index"
        } else {
            return Ok(None);
        };
        Ok(Some(what.to_string()))
    }

    /// After `SHOW`: `[ALL] ROUTINE LOAD [FOR [db.]job | FROM db] [WHERE] [LIMIT]`
    /// and `ROUTINE LOAD TASK [FROM db] WHERE JobName = 'job'`.
    fn parse_show_routine_load(&mut self) -> Result<Statement, ParseError> {
        let all = self.parse_word("ALL");
        self.expect_words(&["ROUTINE", "LOAD"])?;
        if !all && self.parse_word("TASK") {
            let database = self.parse_optional_from_database()?;
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowRoutineLoadTask { database, filter });
        }
        let (job, database) = if self.parse_word("FOR") {
            (Some(self.parse_qualified_name("a routine load job name")?), None)
        } else {
            (None, self.parse_optional_from_database()?)
        };
        let filter = self.parse_show_filter()?;
        let limit = if self.parse_word("LIMIT") {
            Some(self.parse_unsigned_integer("a row count after LIMIT")?)
        } else {
            None
        };
        Ok(Statement::ShowRoutineLoad {
            all,
            job,
            database,
            filter,
            limit,
        })
    }

    /// `[FROM | IN] db`, when present.
    fn parse_optional_from_database(&mut self) -> Result<Option<String>, ParseError> {
        if self.parse_one_of_words(&["FROM", "IN"]).is_some() {
            Ok(Some(self.parse_database_name()?))
        } else {
            Ok(None)
        }
    }

    /// `LIKE 'pattern'` or `WHERE condition`, when present.
    fn parse_show_filter(&mut self) -> Result<Option<ShowFilter>, ParseError> {
        if self.parse_word("LIKE") {
            return Ok(Some(ShowFilter::Like(
                self.parse_string("a pattern in quotes")?,
            )));
        }
        if self.parse_word("WHERE") {
            let condition = self.with_sqlparser(|parser| parser.parse_expr())?;
            return Ok(Some(ShowFilter::Where(condition)));
        }
        Ok(None)
    }

    /// `DESC t [ALL]`; `DESC SELECT ...` (and other statements) is EXPLAIN, as in MySQL.
    pub(crate) fn parse_describe(&mut self) -> Result<Statement, ParseError> {
        if self.parse_one_of_words(&["DESC", "DESCRIBE"]).is_none() {
            return Err(self.expected("DESC or DESCRIBE"));
        }
        let explains_a_statement = ["SELECT", "WITH", "VALUES", "INSERT", "DELETE", "UPDATE"]
            .iter()
            .any(|word| self.peek_word_is(word))
            || self.peek_token_is(&Token::LParen);
        if explains_a_statement {
            let query = Box::new(self.parse_rest_as_statement()?);
            return Ok(Statement::Explain {
                analyze: false,
                verbose: false,
                query,
            });
        }
        let table = self.parse_qualified_name("a table name")?;
        let all = self.parse_word("ALL");
        Ok(Statement::Describe { table, all })
    }
}
