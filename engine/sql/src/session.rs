//! Session statements: USE, KILL, EXPLAIN, transaction control and accepted no-ops.

use datafusion::sql::sqlparser::tokenizer::Token;

use crate::ast::Statement;
use crate::error::ParseError;
use crate::parser::StatementParser;

impl StatementParser<'_> {
    /// `USE db` or `USE catalog.db`.
    pub(crate) fn parse_use(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("USE")?;
        if self.peek_word_is("CATALOG") && self.peek_nth(1).token != Token::EOF {
            return Err(self.unsupported(self.location(), "USE CATALOG"));
        }
        let database = self.parse_database_name()?;
        Ok(Statement::Use { database })
    }

    /// `KILL [CONNECTION | QUERY] id`.
    pub(crate) fn parse_kill(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("KILL")?;
        let query_only = matches!(
            self.parse_one_of_words(&["CONNECTION", "QUERY"]),
            Some("QUERY")
        );
        let connection_id = self.parse_unsigned_integer("a connection id")?;
        Ok(Statement::Kill {
            connection_id,
            query_only,
        })
    }

    /// `EXPLAIN [LOGICAL | VERBOSE | COSTS | ANALYZE [VERBOSE]] statement`.
    pub(crate) fn parse_explain(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("EXPLAIN")?;
        let mut analyze = false;
        let mut verbose = false;
        match self.parse_one_of_words(&["LOGICAL", "VERBOSE", "COSTS", "ANALYZE"]) {
            Some("VERBOSE" | "COSTS") => verbose = true,
            Some("ANALYZE") => {
                analyze = true;
                verbose = self.parse_word("VERBOSE");
            }
            _ => {}
        }
        let query = Box::new(self.parse_rest_as_statement()?);
        Ok(Statement::Explain {
            analyze,
            verbose,
            query,
        })
    }

    /// `BEGIN [WORK]`, `START TRANSACTION [modifiers]`, `COMMIT [WORK] [AND [NO] CHAIN]
    /// [[NO] RELEASE]`, `ROLLBACK [WORK] ...`.
    pub(crate) fn parse_transaction_control(&mut self) -> Result<Statement, ParseError> {
        if self.parse_word("BEGIN") {
            let _ = self.parse_word("WORK");
        } else if self.parse_word("START") {
            self.expect_word("TRANSACTION")?;
            // `WITH CONSISTENT SNAPSHOT`, `READ ONLY`, `READ WRITE`: every StarRocks statement
            // already reads a consistent snapshot.
            loop {
                if self.parse_words(&["WITH", "CONSISTENT", "SNAPSHOT"])
                    || self.parse_words(&["READ", "ONLY"])
                    || self.parse_words(&["READ", "WRITE"])
                {
                    if !self.consume(&Token::Comma) {
                        break;
                    }
                } else {
                    break;
                }
            }
        } else {
            if self.parse_one_of_words(&["COMMIT", "ROLLBACK"]).is_none() {
                return Err(self.expected("BEGIN, START TRANSACTION, COMMIT or ROLLBACK"));
            }
            let _ = self.parse_word("WORK");
            if self.peek_word_is("TO") {
                return Err(self.unsupported(self.location(), "ROLLBACK TO SAVEPOINT"));
            }
            if self.parse_word("AND") {
                let _ = self.parse_word("NO");
                self.expect_word("CHAIN")?;
            }
            let _ = self.parse_words(&["NO", "RELEASE"]) || self.parse_word("RELEASE");
        }
        Ok(Statement::TransactionControl)
    }

    /// `ANALYZE ...`, `ADMIN ...`, `REFRESH ...`: accepted as written, without a check of the
    /// rest, because Cairn does nothing for them.
    pub(crate) fn parse_no_op(&mut self) -> Statement {
        let statement = self.statement_text();
        while !self.at_end() {
            self.parser.advance_token();
        }
        Statement::NoOp { statement }
    }
}
