//! StarRocks INSERT (with OVERWRITE, PARTITION and WITH LABEL) and DELETE.

use datafusion::sql::sqlparser::tokenizer::Token;

use crate::ast::{Insert, InsertSource, Statement};
use crate::error::ParseError;
use crate::parser::StatementParser;

impl StatementParser<'_> {
    /// `INSERT {INTO | OVERWRITE} [TABLE] t [PARTITION (p, ...)] [WITH LABEL l] [(columns)]
    /// {VALUES ... | SELECT ... | WITH ... SELECT ...}`; PARTITION and WITH LABEL in either
    /// order.
    pub(crate) fn parse_insert(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("INSERT")?;
        let overwrite = if self.parse_word("OVERWRITE") {
            true
        } else if self.parse_word("INTO") {
            false
        } else {
            return Err(self.expected("INTO or OVERWRITE"));
        };
        let _ = self.parse_word("TABLE");
        let table = self.parse_qualified_name("a table name")?;
        let mut partitions = Vec::new();
        let mut label = None;
        loop {
            if self.peek_word_is("TEMPORARY") {
                return Err(self.unsupported(self.location(), "Temporary partitions"));
            }
            if self.peek_word_is("PARTITION") || self.peek_word_is("PARTITIONS") {
                if !partitions.is_empty() {
                    return Err(self.syntax_error_here("Duplicate PARTITION clause"));
                }
                partitions = self.parse_optional_partition_names()?;
            } else if self.peek_word_is("WITH") && self.peek_nth_word_is(1, "LABEL") {
                if label.is_some() {
                    return Err(self.syntax_error_here("Duplicate WITH LABEL clause"));
                }
                self.expect_words(&["WITH", "LABEL"])?;
                label = Some(self.parse_string_or_identifier("a label")?);
            } else {
                break;
            }
        }
        let mut columns = Vec::new();
        if self.peek_token_is(&Token::LParen) && !self.query_follows_parenthesis() {
            columns = self
                .parse_parenthesized_identifiers("a column name")?
                .into_iter()
                .map(|(name, _)| name)
                .collect();
        }
        if !(self.peek_word_is("VALUES")
            || self.peek_word_is("SELECT")
            || self.peek_word_is("WITH")
            || self.peek_token_is(&Token::LParen))
        {
            return Err(self.expected("VALUES, SELECT or WITH"));
        }
        let query = self.with_sqlparser(|parser| parser.parse_query())?;
        Ok(Statement::Insert(Insert {
            table,
            overwrite,
            label,
            partitions,
            columns,
            source: InsertSource::Query(query),
        }))
    }

    /// Whether the `(` ahead opens a query, `(SELECT ...)`, rather than a column list.
    fn query_follows_parenthesis(&self) -> bool {
        let mut depth = 0;
        while self.peek_nth(depth).token == Token::LParen {
            depth += 1;
        }
        ["SELECT", "WITH", "VALUES"]
            .iter()
            .any(|word| self.peek_nth_word_is(depth, word))
    }

    /// `DELETE FROM t [PARTITION (p, ...)] [WHERE condition]`.
    pub(crate) fn parse_delete(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("DELETE")?;
        self.expect_word("FROM")?;
        let table = self.parse_qualified_name("a table name")?;
        let partitions = self.parse_optional_partition_names()?;
        if self.peek_word_is("USING") {
            return Err(self.unsupported(self.location(), "DELETE ... USING"));
        }
        let selection = if self.parse_word("WHERE") {
            Some(self.with_sqlparser(|parser| parser.parse_expr())?)
        } else {
            None
        };
        Ok(Statement::Delete {
            table,
            partitions,
            selection,
        })
    }
}
