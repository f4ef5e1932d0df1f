//! CREATE, DROP and ALTER dispatch, database statements, DROP/TRUNCATE/ALTER TABLE.

use datafusion::sql::sqlparser::tokenizer::{Location, Token};

use crate::ast::{AlterTableOperation, BackendOperation, ColumnPosition, Statement};
use crate::error::ParseError;
use crate::parser::StatementParser;

impl StatementParser<'_> {
    /// `CREATE ...`: databases, tables and users are ours, the rest (views...) is sqlparser's.
    pub(crate) fn parse_create(&mut self) -> Result<Statement, ParseError> {
        let create_location = self.location();
        self.expect_word("CREATE")?;
        if self.parse_one_of_words(&["DATABASE", "SCHEMA"]).is_some() {
            return self.parse_create_database();
        }
        if self.parse_word("TABLE") {
            return self.parse_create_table();
        }
        if self.parse_word("USER") {
            return self.parse_create_user();
        }
        if self.peek_word_is("EXTERNAL") || self.peek_word_is("TEMPORARY") {
            let what = format!(
                "CREATE {} TABLE",
                self.peek_word().unwrap_or_default().to_ascii_uppercase()
            );
            return Err(self.unsupported(create_location, &what));
        }
        if self.peek_word_is("ROUTINE") {
            return self.parse_create_routine_load();
        }
        if self.peek_word_is("MATERIALIZED") {
            return Err(self.unsupported(create_location, "CREATE MATERIALIZED VIEW"));
        }
        self.parse_with_sqlparser()
    }

    /// `DROP ...`: databases, tables and users are ours, the rest is sqlparser's.
    pub(crate) fn parse_drop(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("DROP")?;
        if self.parse_one_of_words(&["DATABASE", "SCHEMA"]).is_some() {
            let if_exists = self.parse_if_exists()?;
            let name = self.parse_database_name()?;
            // FORCE skips StarRocks' recycle bin; Cairn has none, so both forms are the same.
            let _ = self.parse_word("FORCE");
            return Ok(Statement::DropDatabase { name, if_exists });
        }
        if self.parse_word("TABLE") {
            let if_exists = self.parse_if_exists()?;
            let table = self.parse_qualified_name("a table name")?;
            let _ = self.parse_word("FORCE");
            return Ok(Statement::DropTable { table, if_exists });
        }
        if self.parse_word("USER") {
            return self.parse_drop_user();
        }
        self.parse_with_sqlparser()
    }

    /// `ALTER TABLE` and `ALTER USER`; other ALTERs get a clear error.
    pub(crate) fn parse_alter(&mut self) -> Result<Statement, ParseError> {
        let alter_location = self.location();
        self.expect_word("ALTER")?;
        if self.parse_word("TABLE") {
            return self.parse_alter_table();
        }
        if self.parse_word("USER") {
            return self.parse_alter_user();
        }
        if self.peek_word_is("ROUTINE") {
            return self.parse_alter_routine_load();
        }
        if self.parse_word("SYSTEM") {
            return self.parse_alter_system(alter_location);
        }
        match self.peek_word() {
            Some(word) => {
                let what = format!("ALTER {}", word.to_ascii_uppercase());
                Err(self.unsupported(alter_location, &what))
            }
            None => Err(self.expected("TABLE, USER, SYSTEM or ROUTINE LOAD")),
        }
    }

    /// After `ALTER SYSTEM`: `ADD|DROP|DECOMMISSION BACKEND "host:port"[, ...]`. Frontend
    /// and broker membership are not supported: Cairn runs one FE and no brokers.
    fn parse_alter_system(&mut self, alter_location: Location) -> Result<Statement, ParseError> {
        let operation = if self.parse_word("ADD") {
            BackendOperation::Add
        } else if self.parse_word("DROP") {
            BackendOperation::Drop
        } else if self.parse_word("DECOMMISSION") {
            BackendOperation::Decommission
        } else {
            return match self.peek_word() {
                Some(word) => {
                    let what = format!("ALTER SYSTEM {}", word.to_ascii_uppercase());
                    Err(self.unsupported(alter_location, &what))
                }
                None => Err(self.expected("ADD, DROP or DECOMMISSION")),
            };
        };
        if !self.parse_word("BACKEND") {
            return match self.peek_word() {
                Some(word) => {
                    let what = format!("ALTER SYSTEM ... {}", word.to_ascii_uppercase());
                    Err(self.unsupported(alter_location, &what))
                }
                None => Err(self.expected("BACKEND")),
            };
        }
        let mut backends = vec![self.parse_string("a backend address 'host:heartbeat_port'")?];
        while self.consume(&Token::Comma) {
            backends.push(self.parse_string("a backend address 'host:heartbeat_port'")?);
        }
        if !self.at_end() {
            return Err(self.expected("',' or the end of the statement"));
        }
        Ok(Statement::AlterSystem { operation, backends })
    }

    /// After `CREATE DATABASE`: `[IF NOT EXISTS] name` and options that are accepted and
    /// ignored: MySQL's `[DEFAULT] CHARACTER SET|CHARSET|COLLATE [=] x` (Cairn is utf8 only)
    /// and StarRocks' `PROPERTIES (...)`, which the AST does not carry.
    fn parse_create_database(&mut self) -> Result<Statement, ParseError> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_database_name()?;
        while !self.at_end() {
            if self.peek_word_is("PROPERTIES") {
                self.parse_properties()?;
                continue;
            }
            let _ = self.parse_word("DEFAULT");
            if self.parse_words(&["CHARACTER", "SET"])
                || self.parse_word("CHARSET")
                || self.parse_word("COLLATE")
            {
                let _ = self.consume(&Token::Eq);
                self.parse_string_or_identifier("a character set or collation name")?;
            } else {
                return Err(
                    self.expected("PROPERTIES, CHARACTER SET, COLLATE or the end of the statement")
                );
            }
        }
        Ok(Statement::CreateDatabase {
            name,
            if_not_exists,
        })
    }

    /// `TRUNCATE [TABLE] name [PARTITION (p, ...)]`.
    pub(crate) fn parse_truncate(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("TRUNCATE")?;
        let _ = self.parse_word("TABLE");
        let table = self.parse_qualified_name("a table name")?;
        let partitions = self.parse_optional_partition_names()?;
        Ok(Statement::TruncateTable { table, partitions })
    }

    /// After `ALTER TABLE`: `name op[, op...]` with ADD COLUMN and DROP COLUMN.
    fn parse_alter_table(&mut self) -> Result<Statement, ParseError> {
        let table = self.parse_qualified_name("a table name")?;
        let mut operations = Vec::new();
        loop {
            self.parse_alter_table_operation(&mut operations)?;
            if !self.consume(&Token::Comma) {
                break;
            }
        }
        Ok(Statement::AlterTable { table, operations })
    }

    fn parse_alter_table_operation(
        &mut self,
        operations: &mut Vec<AlterTableOperation>,
    ) -> Result<(), ParseError> {
        let operation_location = self.location();
        if self.parse_word("ADD") {
            if !self.parse_word("COLUMN") {
                return match self.peek_word() {
                    Some(word) if !word.eq_ignore_ascii_case("COLUMNS") => {
                        let what = format!("ALTER TABLE ... ADD {}", word.to_ascii_uppercase());
                        Err(self.unsupported(operation_location, &what))
                    }
                    _ => Err(self.expected("COLUMN")),
                };
            }
            if self.consume(&Token::LParen) {
                // `ADD COLUMN (a INT, b INT)`: each column goes last, in order.
                loop {
                    let column = self.parse_column_definition()?.definition;
                    operations.push(AlterTableOperation::AddColumn {
                        column,
                        position: ColumnPosition::Last,
                    });
                    if !self.consume(&Token::Comma) {
                        break;
                    }
                }
                self.expect_token(&Token::RParen)?;
            } else {
                let column = self.parse_column_definition()?.definition;
                let position = if self.parse_word("FIRST") {
                    ColumnPosition::First
                } else if self.parse_word("AFTER") {
                    ColumnPosition::After(self.parse_identifier("a column name")?)
                } else {
                    ColumnPosition::Last
                };
                operations.push(AlterTableOperation::AddColumn { column, position });
            }
            self.reject_rollup_target()?;
            return Ok(());
        }
        if self.parse_word("DROP") {
            if !self.parse_word("COLUMN") {
                return match self.peek_word() {
                    Some(word) => {
                        let what = format!("ALTER TABLE ... DROP {}", word.to_ascii_uppercase());
                        Err(self.unsupported(operation_location, &what))
                    }
                    None => Err(self.expected("COLUMN")),
                };
            }
            let name = self.parse_identifier("a column name")?;
            self.reject_rollup_target()?;
            operations.push(AlterTableOperation::DropColumn { name });
            return Ok(());
        }
        match self.peek_word() {
            Some(word) => {
                let what = format!("ALTER TABLE ... {}", word.to_ascii_uppercase());
                Err(self.unsupported(operation_location, &what))
            }
            None => Err(self.expected("ADD COLUMN or DROP COLUMN")),
        }
    }

    /// `TO rollup` / `FROM rollup` name a rollup index, which Cairn does not have.
    fn reject_rollup_target(&mut self) -> Result<(), ParseError> {
        if self.peek_word_is("TO") || self.peek_word_is("FROM") {
            return Err(self.unsupported(self.location(), "Rollup indexes"));
        }
        Ok(())
    }
}
