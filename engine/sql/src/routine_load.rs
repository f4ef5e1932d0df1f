//! Routine Load statements: CREATE, ALTER, PAUSE, RESUME and STOP ROUTINE LOAD. SHOW ROUTINE
//! LOAD is parsed with the other SHOW statements.
//!
//! `COLUMNS (...)` and `WHERE` are kept as the text the user wrote: they are the same
//! expressions as Stream Load's `columns` and `where` headers, and the load crate that parses
//! those parses these too, so both loads accept exactly the same mappings.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::tokenizer::Token;

use crate::ast::{RoutineLoadDescription, Statement};
use crate::error::ParseError;
use crate::parser::StatementParser;

impl StatementParser<'_> {
    /// After `CREATE`: `ROUTINE LOAD [db.]job ON table [load properties] [PROPERTIES (...)]
    /// FROM KAFKA (...)`.
    pub(crate) fn parse_create_routine_load(&mut self) -> Result<Statement, ParseError> {
        self.expect_words(&["ROUTINE", "LOAD"])?;
        let job = self.parse_qualified_name("a routine load job name")?;
        self.expect_word("ON")?;
        let table = self.parse_identifier("a table name")?;
        let description = self.parse_load_description()?;
        let properties = if self.peek_word_is("PROPERTIES") {
            self.parse_properties()?
        } else {
            BTreeMap::new()
        };
        let (source_type, source_properties) = self.parse_data_source(true)?;
        Ok(Statement::CreateRoutineLoad {
            job,
            table,
            description,
            properties,
            source_type,
            source_properties,
        })
    }

    /// After `ALTER`: `ROUTINE LOAD FOR [db.]job [load properties] [PROPERTIES (...)]
    /// [FROM KAFKA (...)]`.
    pub(crate) fn parse_alter_routine_load(&mut self) -> Result<Statement, ParseError> {
        self.expect_words(&["ROUTINE", "LOAD", "FOR"])?;
        let job = self.parse_qualified_name("a routine load job name")?;
        let description = self.parse_load_description()?;
        let properties = if self.peek_word_is("PROPERTIES") {
            self.parse_properties()?
        } else {
            BTreeMap::new()
        };
        let source_properties = if self.peek_word_is("FROM") {
            self.parse_data_source(false)?.1
        } else {
            BTreeMap::new()
        };
        Ok(Statement::AlterRoutineLoad {
            job,
            description,
            properties,
            source_properties,
        })
    }

    /// `PAUSE [ALL] ROUTINE LOAD [FOR [db.]job]`, `RESUME ...`, `STOP ROUTINE LOAD FOR [db.]job`.
    pub(crate) fn parse_routine_load_control(&mut self) -> Result<Statement, ParseError> {
        let verb = self
            .parse_one_of_words(&["PAUSE", "RESUME", "STOP"])
            .ok_or_else(|| self.expected("PAUSE, RESUME or STOP"))?;
        let all = verb != "STOP" && self.parse_word("ALL");
        self.expect_words(&["ROUTINE", "LOAD"])?;
        let job = if all {
            None
        } else {
            self.expect_word("FOR")?;
            Some(self.parse_qualified_name("a routine load job name")?)
        };
        Ok(match verb {
            "PAUSE" => Statement::PauseRoutineLoad { job },
            "RESUME" => Statement::ResumeRoutineLoad { job },
            _ => Statement::StopRoutineLoad {
                job: job.ok_or_else(|| self.expected("FOR job"))?,
            },
        })
    }

    /// The comma-separated load properties: `COLUMNS TERMINATED BY`, `ROWS TERMINATED BY`,
    /// `COLUMNS (...)`, `WHERE`, `PARTITION (...)`, each at most once.
    fn parse_load_description(&mut self) -> Result<RoutineLoadDescription, ParseError> {
        let mut description = RoutineLoadDescription::default();
        loop {
            let location = self.location();
            let duplicate = |parser: &Self, what: &str| {
                parser.error_at(location, format!("{what} is given more than once"))
            };
            if self.parse_words(&["COLUMNS", "TERMINATED", "BY"]) {
                if description.column_separator.is_some() {
                    return Err(duplicate(self, "COLUMNS TERMINATED BY"));
                }
                description.column_separator = Some(self.parse_string("a column separator in quotes")?);
            } else if self.parse_words(&["ROWS", "TERMINATED", "BY"]) {
                if description.row_delimiter.is_some() {
                    return Err(duplicate(self, "ROWS TERMINATED BY"));
                }
                description.row_delimiter = Some(self.parse_string("a row delimiter in quotes")?);
            } else if self.peek_word_is("COLUMNS") && self.peek_nth(1).token == Token::LParen {
                if description.columns.is_some() {
                    return Err(duplicate(self, "COLUMNS"));
                }
                self.parser.advance_token();
                description.columns = Some(self.parse_parenthesized_text("column mappings")?);
            } else if self.parse_word("WHERE") {
                if description.where_clause.is_some() {
                    return Err(duplicate(self, "WHERE"));
                }
                let start = self.location();
                self.with_sqlparser(|parser| parser.parse_expr())?;
                description.where_clause = Some(self.text_between(start, self.previous_end()));
            } else if self.peek_word_is("PARTITION") || self.peek_word_is("PARTITIONS") {
                if !description.partitions.is_empty() {
                    return Err(duplicate(self, "PARTITION"));
                }
                description.partitions = self.parse_optional_partition_names()?;
            } else if self.peek_word_is("TEMPORARY") {
                return Err(self.unsupported(location, "TEMPORARY PARTITION in a routine load"));
            } else {
                return Ok(description);
            }
            if !self.consume(&Token::Comma) {
                return Ok(description);
            }
        }
    }

    /// `( ... )` with balanced parentheses inside, returning the text between them.
    fn parse_parenthesized_text(&mut self, what: &str) -> Result<String, ParseError> {
        self.expect_token(&Token::LParen)?;
        let start = self.location();
        let mut depth = 0usize;
        loop {
            match &self.peek().token {
                Token::EOF => return Err(self.expected(&format!("')' to close the {what}"))),
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                _ => {}
            }
            self.parser.advance_token();
        }
        let text = self.text_between(start, self.location());
        self.expect_token(&Token::RParen)?;
        if text.trim().is_empty() {
            return Err(self.syntax_error_at(start, &format!("Expected {what}, found ')'")));
        }
        Ok(text)
    }

    /// `FROM KAFKA ("key" = "value", ...)`; the properties are required when creating.
    fn parse_data_source(&mut self, required: bool) -> Result<(String, BTreeMap<String, String>), ParseError> {
        self.expect_word("FROM")?;
        let location = self.location();
        let source = self.parse_identifier("a data source such as KAFKA")?.to_ascii_uppercase();
        if source != "KAFKA" {
            return Err(self.error_at(
                location,
                format!("Unknown data source '{source}': Routine Load reads from KAFKA"),
            ));
        }
        if !required && !self.peek_token_is(&Token::LParen) {
            return Ok((source, BTreeMap::new()));
        }
        let properties = self.parse_property_list()?;
        Ok((source, properties))
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{QualifiedName, Statement};
    use crate::parse_statement;

    fn job(database: Option<&str>, name: &str) -> QualifiedName {
        QualifiedName {
            database: database.map(str::to_string),
            name: name.to_string(),
        }
    }

    #[test]
    fn create_with_every_clause() {
        let statement = parse_statement(
            "CREATE ROUTINE LOAD demo.sensor_job ON readings
             COLUMNS TERMINATED BY ',',
             COLUMNS (id, tmp, value = tmp * 100, ts = from_unixtime(epoch)),
             WHERE value > 0 AND id <> 'x',
             PARTITION (p1, p2)
             PROPERTIES (\"desired_concurrent_number\" = \"2\", \"FORMAT\" = \"csv\")
             FROM KAFKA (\"kafka_broker_list\" = \"127.0.0.1:9092\", \"kafka_topic\" = \"t\")",
        )
        .expect("parses");
        let Statement::CreateRoutineLoad {
            job: name,
            table,
            description,
            properties,
            source_type,
            source_properties,
        } = statement
        else {
            panic!("not a CREATE ROUTINE LOAD: {statement:?}");
        };
        assert_eq!(name, job(Some("demo"), "sensor_job"));
        assert_eq!(table, "readings");
        assert_eq!(description.column_separator.as_deref(), Some(","));
        assert_eq!(
            description.columns.as_deref(),
            Some("id, tmp, value = tmp * 100, ts = from_unixtime(epoch)")
        );
        assert_eq!(description.where_clause.as_deref(), Some("value > 0 AND id <> 'x'"));
        assert_eq!(description.partitions, vec!["p1", "p2"]);
        assert_eq!(properties.get("format").map(String::as_str), Some("csv"));
        assert_eq!(source_type, "KAFKA");
        assert_eq!(source_properties.get("kafka_topic").map(String::as_str), Some("t"));
    }

    #[test]
    fn control_statements() {
        assert_eq!(
            parse_statement("PAUSE ROUTINE LOAD FOR j").expect("parses"),
            Statement::PauseRoutineLoad { job: Some(job(None, "j")) }
        );
        assert_eq!(
            parse_statement("pause all routine load").expect("parses"),
            Statement::PauseRoutineLoad { job: None }
        );
        assert_eq!(
            parse_statement("RESUME ROUTINE LOAD FOR d.j").expect("parses"),
            Statement::ResumeRoutineLoad { job: Some(job(Some("d"), "j")) }
        );
        assert_eq!(
            parse_statement("STOP ROUTINE LOAD FOR d.j").expect("parses"),
            Statement::StopRoutineLoad { job: job(Some("d"), "j") }
        );
        assert!(parse_statement("STOP ALL ROUTINE LOAD").is_err());
    }

    #[test]
    fn alter_without_source() {
        let statement = parse_statement(
            "ALTER ROUTINE LOAD FOR j PROPERTIES (\"max_error_number\" = \"100\")",
        )
        .expect("parses");
        let Statement::AlterRoutineLoad { properties, source_properties, .. } = statement else {
            panic!("not an ALTER ROUTINE LOAD");
        };
        assert_eq!(properties.get("max_error_number").map(String::as_str), Some("100"));
        assert!(source_properties.is_empty());
    }

    #[test]
    fn errors_name_the_problem() {
        let error = parse_statement("CREATE ROUTINE LOAD j ON t FROM PULSAR (\"a\" = \"b\")")
            .expect_err("pulsar is not a source");
        assert!(error.to_string().contains("Unknown data source 'PULSAR'"), "{error}");
        let error = parse_statement("CREATE ROUTINE LOAD j ON t COLUMNS (a, b PROPERTIES (\"a\"=\"b\") FROM KAFKA (\"a\"=\"b\")")
            .expect_err("unbalanced");
        assert!(error.to_string().contains("')' to close"), "{error}");
        let error = parse_statement("CREATE ROUTINE LOAD j ON t WHERE a > 1, WHERE b > 1 FROM KAFKA (\"a\"=\"b\")")
            .expect_err("two WHERE clauses");
        assert!(error.to_string().contains("WHERE is given more than once"), "{error}");
    }

    /// The operator writes these statements; its snapshot is the contract between the two.
    #[test]
    fn the_operators_statement_parses() {
        let snapshot = include_str!(
            "../../../operator/controller/src/snapshots/cairn_operator__database__tests__clicks_routine_load.snap"
        );
        let statement = snapshot.splitn(3, "---").nth(2).expect("a snapshot body after its header");
        let Statement::CreateRoutineLoad { job: name, description, properties, source_properties, .. } =
            parse_statement(statement.trim()).expect("the operator's statement parses")
        else {
            panic!("not a CREATE ROUTINE LOAD");
        };
        assert_eq!(name, job(Some("web"), "clicks"));
        assert_eq!(description.columns.as_deref(), Some("ts, user_id, url"));
        assert_eq!(properties.get("jsonpaths").map(String::as_str), Some(r#"["$.ts","$.user","$.url"]"#));
        assert_eq!(source_properties.get("property.sasl.mechanism").map(String::as_str), Some("SCRAM-SHA-512"));
    }

    #[test]
    fn show_routine_load_forms() {
        assert_eq!(
            parse_statement("SHOW ALL ROUTINE LOAD FOR d.j").expect("parses"),
            Statement::ShowRoutineLoad {
                all: true,
                job: Some(job(Some("d"), "j")),
                database: None,
                filter: None,
                limit: None,
            }
        );
        assert!(matches!(
            parse_statement("SHOW ROUTINE LOAD FROM d WHERE State = 'RUNNING' LIMIT 3").expect("parses"),
            Statement::ShowRoutineLoad { all: false, job: None, database: Some(_), filter: Some(_), limit: Some(3) }
        ));
        assert!(matches!(
            parse_statement("SHOW ROUTINE LOAD TASK FROM d WHERE JobName = 'j'").expect("parses"),
            Statement::ShowRoutineLoadTask { database: Some(_), filter: Some(_) }
        ));
    }
}
