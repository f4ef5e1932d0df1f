//! StarRocks `CREATE TABLE` with its key model, partitioning, distribution and properties, and
//! the checks StarRocks makes on them before a table exists.

use std::collections::BTreeMap;

use cairn_common::{
    ColumnType, DistributionDesc, KeysType, PartitionDesc, RangePartition, TableDefinition,
};
use datafusion::sql::sqlparser::tokenizer::{Location, Token};

use crate::ast::{QualifiedName, Statement};
use crate::column::ParsedColumn;
use crate::error::ParseError;
use crate::parser::{StatementParser, quoted_text};

/// Units of `date_trunc` expression partitioning.
const DATE_TRUNC_UNITS: &[&str] = &["hour", "day", "week", "month", "year"];
/// Units of `time_slice` expression partitioning.
const TIME_SLICE_UNITS: &[&str] = &["hour", "day", "month", "year"];
/// Units of `EVERY (INTERVAL n unit)` in batch range partitions.
const EVERY_UNITS: &[&str] = &["hour", "day", "week", "month", "year"];

/// A column name in a clause, kept with its location for "doesn't exist" errors.
type LocatedName = (String, Location);

/// The clauses after the column list, each at most once, before they are checked.
#[derive(Default)]
struct TableClauses {
    keys: Option<(KeysType, Vec<LocatedName>)>,
    comment: Option<String>,
    partition: Option<(PartitionDesc, Vec<LocatedName>)>,
    distribution: Option<(DistributionDesc, Vec<LocatedName>)>,
    order_by: Option<Vec<LocatedName>>,
    properties: Option<BTreeMap<String, String>>,
}

impl StatementParser<'_> {
    /// After `CREATE TABLE`.
    pub(crate) fn parse_create_table(&mut self) -> Result<Statement, ParseError> {
        let if_not_exists = self.parse_if_not_exists()?;
        let table = self.parse_qualified_name("a table name")?;
        if self.peek_word_is("LIKE") {
            return Err(self.unsupported(self.location(), "CREATE TABLE ... LIKE"));
        }
        let mut columns: Vec<ParsedColumn> = Vec::new();
        let mut index_columns: Vec<LocatedName> = Vec::new();
        let column_list_location = self.location();
        if self.consume(&Token::LParen) {
            loop {
                if self.parse_word("INDEX") {
                    index_columns.extend(self.parse_index_definition()?);
                } else {
                    let column = self.parse_column_definition()?;
                    if columns.iter().any(|existing| {
                        existing
                            .definition
                            .name
                            .eq_ignore_ascii_case(&column.definition.name)
                    }) {
                        return Err(self.error_at(
                            column.location,
                            format!("Duplicate column name '{}'", column.definition.name),
                        ));
                    }
                    columns.push(column);
                }
                if !self.consume(&Token::Comma) {
                    break;
                }
            }
            self.expect_token(&Token::RParen)?;
        }
        let clauses = self.parse_table_clauses()?;
        let as_location = self.location();
        if self.parse_word("AS") {
            if !columns.is_empty() || !index_columns.is_empty() {
                return Err(self.error_at(
                    column_list_location,
                    "CREATE TABLE ... AS SELECT takes its columns from the query: remove the column definitions",
                ));
            }
            let query = self.with_sqlparser(|parser| parser.parse_query())?;
            let definition = clauses.into_definition(&table, Vec::new());
            return Ok(Statement::CreateTableAsSelect {
                table,
                if_not_exists,
                definition,
                query,
            });
        }
        if columns.is_empty() {
            return Err(self.syntax_error_at(
                as_location,
                "Expected '(' with column definitions, or AS SELECT",
            ));
        }
        self.check_table(&columns, &clauses, &index_columns)?;
        let keys_type = clauses
            .keys
            .as_ref()
            .map_or(KeysType::Duplicate, |(keys_type, _)| *keys_type);
        let mut definitions: Vec<_> = columns
            .into_iter()
            .map(|column| column.definition)
            .collect();
        let key_names: Vec<String> = match &clauses.keys {
            Some((_, names)) => names.iter().map(|(name, _)| name.clone()).collect(),
            // Columns marked `KEY` inline stand for the key clause.
            None => definitions
                .iter()
                .filter(|column| column.is_key)
                .map(|column| column.name.clone())
                .collect(),
        };
        for column in &mut definitions {
            if key_names
                .iter()
                .any(|key| key.eq_ignore_ascii_case(&column.name))
            {
                column.is_key = true;
                if keys_type == KeysType::Primary {
                    column.nullable = false;
                }
            }
        }
        let mut definition = clauses.into_definition(&table, definitions);
        definition.keys_type = keys_type;
        definition.key_columns = key_names;
        Ok(Statement::CreateTable {
            table,
            if_not_exists,
            definition,
        })
    }

    /// After `INDEX`: `name (col) USING BITMAP [COMMENT 'c']`. Bitmap indexes change no
    /// result, and Parquet statistics serve the same purpose, so only the column is checked.
    fn parse_index_definition(&mut self) -> Result<Vec<LocatedName>, ParseError> {
        self.parse_identifier("an index name")?;
        let columns = self.parse_parenthesized_identifiers("a column name")?;
        if self.parse_word("USING") {
            let index_type_location = self.location();
            let index_type = self.parse_identifier("an index type")?;
            if !index_type.eq_ignore_ascii_case("BITMAP") {
                return Err(self.unsupported(
                    index_type_location,
                    &format!("Index type {}", index_type.to_ascii_uppercase()),
                ));
            }
        }
        if self.parse_word("COMMENT") {
            self.parse_string("a comment string")?;
        }
        Ok(columns)
    }

    fn parse_table_clauses(&mut self) -> Result<TableClauses, ParseError> {
        let mut clauses = TableClauses::default();
        loop {
            let clause_location = self.location();
            let duplicate = |parser: &Self, clause: &str| {
                parser.syntax_error_at(clause_location, &format!("Duplicate {clause} clause"))
            };
            if self.at_end() || self.peek_word_is("AS") {
                return Ok(clauses);
            } else if self.parse_word("ENGINE") {
                let _ = self.consume(&Token::Eq);
                let engine_location = self.location();
                let engine = self.parse_identifier("a table engine")?;
                if !engine.eq_ignore_ascii_case("OLAP") {
                    return Err(self.error_at(
                        engine_location,
                        format!(
                            "Unsupported table engine '{engine}': Cairn stores OLAP tables only"
                        ),
                    ));
                }
            } else if let Some(keys_type) = self.parse_keys_type() {
                if clauses.keys.is_some() {
                    return Err(duplicate(self, "key"));
                }
                let names = self.parse_parenthesized_identifiers("a key column name")?;
                clauses.keys = Some((keys_type, names));
            } else if self.parse_word("COMMENT") {
                if clauses.comment.is_some() {
                    return Err(duplicate(self, "COMMENT"));
                }
                let _ = self.consume(&Token::Eq);
                clauses.comment = Some(self.parse_string("a comment string")?);
            } else if self.parse_words(&["PARTITION", "BY"]) {
                if clauses.partition.is_some() {
                    return Err(duplicate(self, "PARTITION BY"));
                }
                clauses.partition = Some(self.parse_partition_desc(clause_location)?);
            } else if self.parse_words(&["DISTRIBUTED", "BY"]) {
                if clauses.distribution.is_some() {
                    return Err(duplicate(self, "DISTRIBUTED BY"));
                }
                clauses.distribution = Some(self.parse_distribution_desc()?);
            } else if self.parse_words(&["ORDER", "BY"]) {
                if clauses.order_by.is_some() {
                    return Err(duplicate(self, "ORDER BY"));
                }
                clauses.order_by = Some(self.parse_parenthesized_identifiers("a column name")?);
            } else if self.peek_word_is("PROPERTIES") {
                if clauses.properties.is_some() {
                    return Err(duplicate(self, "PROPERTIES"));
                }
                clauses.properties = Some(self.parse_properties()?);
            } else if self.peek_word_is("ROLLUP") {
                return Err(self.unsupported(clause_location, "ROLLUP"));
            } else {
                return Err(self.expected(
                    "ENGINE, DUPLICATE KEY, PRIMARY KEY, COMMENT, PARTITION BY, DISTRIBUTED BY, ORDER BY, PROPERTIES, AS or the end of the statement",
                ));
            }
        }
    }

    /// `DUPLICATE KEY`, `PRIMARY KEY`, `AGGREGATE KEY` or `UNIQUE KEY`, consumed when present.
    fn parse_keys_type(&mut self) -> Option<KeysType> {
        let keys_type = [
            ("DUPLICATE", KeysType::Duplicate),
            ("PRIMARY", KeysType::Primary),
            ("AGGREGATE", KeysType::Aggregate),
            ("UNIQUE", KeysType::Unique),
        ]
        .into_iter()
        .find(|(word, _)| self.peek_word_is(word) && self.peek_nth_word_is(1, "KEY"))
        .map(|(_, keys_type)| keys_type)?;
        self.parser.advance_token();
        self.parser.advance_token();
        Some(keys_type)
    }

    /// `PROPERTIES ("key" = "value", ...)`; keys are lower-cased, values kept as written.
    pub(crate) fn parse_properties(&mut self) -> Result<BTreeMap<String, String>, ParseError> {
        self.expect_word("PROPERTIES")?;
        self.parse_property_list()
    }

    /// `("key" = "value", ...)`, also the body of Routine Load's `FROM KAFKA (...)`.
    pub(crate) fn parse_property_list(&mut self) -> Result<BTreeMap<String, String>, ParseError> {
        self.expect_token(&Token::LParen)?;
        let mut properties = BTreeMap::new();
        if self.consume(&Token::RParen) {
            return Ok(properties);
        }
        loop {
            let key_location = self.location();
            let key = self
                .parse_string("a property name in quotes")?
                .to_ascii_lowercase();
            self.expect_token(&Token::Eq)?;
            let value = self.parse_string("a property value in quotes")?;
            if properties.insert(key.clone(), value).is_some() {
                return Err(self.error_at(key_location, format!("Duplicate property '{key}'")));
            }
            if !self.consume(&Token::Comma) {
                break;
            }
        }
        self.expect_token(&Token::RParen)?;
        Ok(properties)
    }

    /// After `DISTRIBUTED BY`.
    fn parse_distribution_desc(
        &mut self,
    ) -> Result<(DistributionDesc, Vec<LocatedName>), ParseError> {
        if self.parse_word("HASH") {
            let columns = self.parse_parenthesized_identifiers("a distribution column name")?;
            let buckets = self.parse_optional_buckets()?;
            let names = columns.iter().map(|(name, _)| name.clone()).collect();
            Ok((
                DistributionDesc::Hash {
                    columns: names,
                    buckets,
                },
                columns,
            ))
        } else if self.parse_word("RANDOM") {
            let buckets = self.parse_optional_buckets()?;
            Ok((DistributionDesc::Random { buckets }, Vec::new()))
        } else {
            Err(self.expected("HASH or RANDOM"))
        }
    }

    fn parse_optional_buckets(&mut self) -> Result<Option<u32>, ParseError> {
        if !self.parse_word("BUCKETS") {
            return Ok(None);
        }
        let location = self.location();
        let buckets = self.parse_unsigned_integer("the number of buckets")?;
        match u32::try_from(buckets) {
            Ok(buckets) if buckets >= 1 => Ok(Some(buckets)),
            _ => Err(self.error_at(
                location,
                format!(
                    "The number of buckets must be between 1 and {}, found {buckets}",
                    u32::MAX
                ),
            )),
        }
    }

    /// After `PARTITION BY`.
    fn parse_partition_desc(
        &mut self,
        clause_location: Location,
    ) -> Result<(PartitionDesc, Vec<LocatedName>), ParseError> {
        let is_function_call = |parser: &Self, name: &str| {
            parser.peek_word_is(name) && parser.peek_nth(1).token == Token::LParen
        };
        if self.parse_word("RANGE") {
            self.expect_token(&Token::LParen)?;
            if self.peek_word().is_some() && self.peek_nth(1).token == Token::LParen {
                return Err(
                    self.unsupported(clause_location, "Range partitioning on an expression")
                );
            }
            self.parser.prev_token();
            let columns = self.parse_parenthesized_identifiers("a partition column name")?;
            let partitions = self.parse_range_partitions(columns.len())?;
            let names = columns.iter().map(|(name, _)| name.clone()).collect();
            return Ok((
                PartitionDesc::Range {
                    columns: names,
                    partitions,
                },
                columns,
            ));
        }
        if self.peek_word_is("LIST") {
            return Err(self.unsupported(clause_location, "List partitioning (PARTITION BY LIST)"));
        }
        if is_function_call(self, "DATE_TRUNC") {
            return self.parse_date_trunc_partition();
        }
        if is_function_call(self, "TIME_SLICE") {
            return self.parse_time_slice_partition();
        }
        if self.peek_word().is_some() && self.peek_nth(1).token == Token::LParen {
            return Err(self.unsupported(
                clause_location,
                "Expression partitioning with functions other than date_trunc and time_slice",
            ));
        }
        if self.peek_token_is(&Token::LParen) || self.peek_word().is_some() {
            return Err(self.unsupported(
                clause_location,
                "Partitioning by column values (PARTITION BY column)",
            ));
        }
        Err(self.expected("RANGE, date_trunc(...) or time_slice(...)"))
    }

    /// `date_trunc('unit', column)`.
    fn parse_date_trunc_partition(
        &mut self,
    ) -> Result<(PartitionDesc, Vec<LocatedName>), ParseError> {
        self.expect_word("DATE_TRUNC")?;
        self.expect_token(&Token::LParen)?;
        let unit_location = self.location();
        let unit = self
            .parse_string("a time unit in quotes, such as 'day'")?
            .to_ascii_lowercase();
        if !DATE_TRUNC_UNITS.contains(&unit.as_str()) {
            return Err(self.error_at(
                unit_location,
                format!(
                    "Unsupported date_trunc unit '{unit}' for partitioning: use one of {}",
                    DATE_TRUNC_UNITS.join(", ")
                ),
            ));
        }
        self.expect_token(&Token::Comma)?;
        let column = self.parse_located_identifier("a partition column name")?;
        self.expect_token(&Token::RParen)?;
        Ok((
            PartitionDesc::TimeExpression {
                column: column.0.clone(),
                unit,
            },
            vec![column],
        ))
    }

    /// `time_slice(column, INTERVAL 1 unit [, floor])`.
    fn parse_time_slice_partition(
        &mut self,
    ) -> Result<(PartitionDesc, Vec<LocatedName>), ParseError> {
        self.expect_word("TIME_SLICE")?;
        self.expect_token(&Token::LParen)?;
        let column = self.parse_located_identifier("a partition column name")?;
        self.expect_token(&Token::Comma)?;
        self.expect_word("INTERVAL")?;
        let step_location = self.location();
        let step = self.parse_unsigned_integer("the interval length")?;
        if step != 1 {
            return Err(self.unsupported(
                step_location,
                &format!("time_slice partitioning with an interval of {step} units (only 1)"),
            ));
        }
        let unit_location = self.location();
        let unit = self
            .parse_identifier("a time unit, such as day")?
            .to_ascii_lowercase();
        if !TIME_SLICE_UNITS.contains(&unit.as_str()) {
            return Err(self.error_at(
                unit_location,
                format!(
                    "Unsupported time_slice unit '{unit}' for partitioning: use one of {}",
                    TIME_SLICE_UNITS.join(", ")
                ),
            ));
        }
        if self.consume(&Token::Comma) {
            let boundary_location = self.location();
            let boundary = self.parse_string_or_identifier("FLOOR")?;
            if !boundary.eq_ignore_ascii_case("FLOOR") {
                return Err(self.error_at(
                    boundary_location,
                    format!("time_slice partitioning needs FLOOR, found '{boundary}'"),
                ));
            }
        }
        self.expect_token(&Token::RParen)?;
        Ok((
            PartitionDesc::TimeExpression {
                column: column.0.clone(),
                unit,
            },
            vec![column],
        ))
    }

    /// The parenthesized list after `RANGE(columns)`, possibly empty.
    fn parse_range_partitions(
        &mut self,
        column_count: usize,
    ) -> Result<Vec<RangePartition>, ParseError> {
        self.expect_token(&Token::LParen)?;
        let mut partitions = Vec::new();
        if self.consume(&Token::RParen) {
            return Ok(partitions);
        }
        let mut names: Vec<String> = Vec::new();
        loop {
            let item_location = self.location();
            let partition = if self.parse_word("PARTITION") {
                self.parse_range_partition(column_count)?
            } else if self.peek_word_is("START") {
                if column_count != 1 {
                    return Err(self.error_at(
                        item_location,
                        "START ... END ... EVERY needs a table partitioned by exactly one column",
                    ));
                }
                self.parse_batch_partition()?
            } else {
                return Err(self.expected("PARTITION or START"));
            };
            if let RangePartition::LessThan { name, .. } | RangePartition::Fixed { name, .. } =
                &partition
            {
                if names
                    .iter()
                    .any(|existing| existing.eq_ignore_ascii_case(name))
                {
                    return Err(
                        self.error_at(item_location, format!("Duplicate partition name '{name}'"))
                    );
                }
                names.push(name.clone());
            }
            partitions.push(partition);
            if !self.consume(&Token::Comma) {
                break;
            }
        }
        self.expect_token(&Token::RParen)?;
        Ok(partitions)
    }

    /// After `PARTITION`: `[IF NOT EXISTS] name VALUES LESS THAN (...)` or
    /// `name VALUES [(lower), (upper))`.
    fn parse_range_partition(&mut self, column_count: usize) -> Result<RangePartition, ParseError> {
        self.parse_if_not_exists()?;
        let name = self.parse_identifier("a partition name")?;
        self.expect_word("VALUES")?;
        if self.parse_words(&["LESS", "THAN"]) {
            if self.parse_word("MAXVALUE") {
                return Ok(RangePartition::LessThan { name, upper: None });
            }
            let values_location = self.location();
            let upper = self.parse_partition_values(true)?;
            self.check_value_count(&upper, column_count, values_location)?;
            // `(MAXVALUE)` is the same as a bare MAXVALUE.
            let upper = if upper.is_empty() { None } else { Some(upper) };
            return Ok(RangePartition::LessThan { name, upper });
        }
        if self.consume(&Token::LBracket) {
            let lower_location = self.location();
            let lower = self.parse_partition_values(false)?;
            self.check_value_count(&lower, column_count, lower_location)?;
            self.expect_token(&Token::Comma)?;
            let upper_location = self.location();
            let upper = self.parse_partition_values(false)?;
            self.check_value_count(&upper, column_count, upper_location)?;
            self.expect_token(&Token::RParen)?;
            return Ok(RangePartition::Fixed { name, lower, upper });
        }
        Err(self.expected("LESS THAN or '['"))
    }

    fn check_value_count(
        &self,
        values: &[String],
        column_count: usize,
        location: Location,
    ) -> Result<(), ParseError> {
        if values.len() > column_count {
            return Err(self.error_at(
                location,
                format!(
                    "The partition has {} values but the table is partitioned by {column_count} column{}",
                    values.len(),
                    if column_count == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(())
    }

    /// `("v1", "v2")`. With `allow_maxvalue`, `(MAXVALUE)` gives an empty list.
    fn parse_partition_values(&mut self, allow_maxvalue: bool) -> Result<Vec<String>, ParseError> {
        self.expect_token(&Token::LParen)?;
        if allow_maxvalue && self.parse_word("MAXVALUE") {
            self.expect_token(&Token::RParen)?;
            return Ok(Vec::new());
        }
        let mut values = vec![self.parse_partition_value()?];
        while self.consume(&Token::Comma) {
            values.push(self.parse_partition_value()?);
        }
        self.expect_token(&Token::RParen)?;
        Ok(values)
    }

    /// A partition bound: a quoted string or a (possibly negative) number, kept as text.
    fn parse_partition_value(&mut self) -> Result<String, ParseError> {
        let negative = self.consume(&Token::Minus);
        match &self.peek().token {
            Token::Number(text, _) => {
                let text = if negative {
                    format!("-{text}")
                } else {
                    text.clone()
                };
                self.parser.advance_token();
                Ok(text)
            }
            token if !negative && quoted_text(token).is_some() => self.parse_string("a partition value"),
            _ => Err(self.expected("a partition value (a quoted string or a number)")),
        }
    }

    /// `START ("lo") END ("hi") EVERY (INTERVAL n unit)` or `EVERY (n)`.
    fn parse_batch_partition(&mut self) -> Result<RangePartition, ParseError> {
        self.expect_word("START")?;
        let start = self.parse_single_partition_value()?;
        self.expect_word("END")?;
        let end = self.parse_single_partition_value()?;
        self.expect_word("EVERY")?;
        self.expect_token(&Token::LParen)?;
        let (step, unit) = if self.parse_word("INTERVAL") {
            let step = self.parse_partition_step()?;
            let unit_location = self.location();
            let unit = self
                .parse_identifier("a time unit, such as DAY")?
                .to_ascii_lowercase();
            if !EVERY_UNITS.contains(&unit.as_str()) {
                return Err(self.error_at(
                    unit_location,
                    format!(
                        "Unsupported EVERY unit '{unit}': use one of {}",
                        EVERY_UNITS.join(", ")
                    ),
                ));
            }
            (step, Some(unit))
        } else {
            (self.parse_partition_step()?, None)
        };
        self.expect_token(&Token::RParen)?;
        Ok(RangePartition::Batch {
            start,
            end,
            step,
            unit,
        })
    }

    fn parse_single_partition_value(&mut self) -> Result<String, ParseError> {
        self.expect_token(&Token::LParen)?;
        let value = self.parse_partition_value()?;
        self.expect_token(&Token::RParen)?;
        Ok(value)
    }

    fn parse_partition_step(&mut self) -> Result<i64, ParseError> {
        let location = self.location();
        let step = self.parse_unsigned_integer("the step of EVERY")?;
        match i64::try_from(step) {
            Ok(step) if step >= 1 => Ok(step),
            _ => Err(self.error_at(
                location,
                format!("The step of EVERY must be positive, found {step}"),
            )),
        }
    }

    /// The checks StarRocks makes on the columns against the clauses.
    fn check_table(
        &self,
        columns: &[ParsedColumn],
        clauses: &TableClauses,
        index_columns: &[LocatedName],
    ) -> Result<(), ParseError> {
        let find = |name: &str| {
            columns
                .iter()
                .find(|column| column.definition.name.eq_ignore_ascii_case(name))
        };
        let keys_type = clauses
            .keys
            .as_ref()
            .map_or(KeysType::Duplicate, |(keys_type, _)| *keys_type);
        let key_names: Vec<LocatedName> = match &clauses.keys {
            Some((_, names)) => names.clone(),
            None => columns
                .iter()
                .filter(|column| column.definition.is_key)
                .map(|column| (column.definition.name.clone(), column.location))
                .collect(),
        };
        let is_key = |name: &str| {
            key_names
                .iter()
                .any(|(key, _)| key.eq_ignore_ascii_case(name))
        };

        for (position, (key, location)) in key_names.iter().enumerate() {
            let Some(column) = find(key) else {
                return Err(self.error_at(*location, format!("Key column '{key}' doesn't exist")));
            };
            if key_names[..position]
                .iter()
                .any(|(earlier, _)| earlier.eq_ignore_ascii_case(key))
            {
                return Err(self.error_at(*location, format!("Duplicate key column '{key}'")));
            }
            let declared = &columns[position].definition.name;
            if !declared.eq_ignore_ascii_case(key) {
                return Err(self.error_at(
                    *location,
                    format!(
                        "Key columns should be a ordered prefix of the schema. KeyColumns[{position}] \
                         (starts from zero) is {key}, but corresponding column is {declared} in the \
                         previous columns declaration."
                    ),
                ));
            }
            if !column.definition.column_type.can_be_key() {
                return Err(self.error_at(
                    *location,
                    format!(
                        "Invalid key column '{key}' of type {}: FLOAT, DOUBLE and JSON columns cannot be keys, use DECIMAL instead of FLOAT or DOUBLE",
                        column.definition.column_type
                    ),
                ));
            }
            if keys_type == KeysType::Primary && column.explicit_null {
                return Err(self.error_at(
                    column.location,
                    format!("Primary key column '{key}' cannot be nullable"),
                ));
            }
        }
        if clauses.keys.is_some() {
            for column in columns {
                if column.definition.is_key && !is_key(&column.definition.name) {
                    return Err(self.error_at(
                        column.location,
                        format!(
                            "Column '{}' is marked KEY but is not in the {} clause",
                            column.definition.name,
                            keys_type.keyword()
                        ),
                    ));
                }
            }
        }
        for column in columns {
            let name = &column.definition.name;
            match (&column.aggregate, keys_type) {
                (Some((function, location)), KeysType::Aggregate) if is_key(name) => {
                    return Err(self.error_at(
                        *location,
                        format!("Key column '{name}' should not specify aggregate type {function}"),
                    ));
                }
                (Some((function, location)), keys_type) if keys_type != KeysType::Aggregate => {
                    return Err(self.error_at(
                        *location,
                        format!(
                            "Aggregate type {function} of column '{name}' is only allowed in AGGREGATE KEY tables, not in {} tables",
                            keys_type.keyword()
                        ),
                    ));
                }
                (None, KeysType::Aggregate) if !is_key(name) => {
                    return Err(self.error_at(
                        column.location,
                        format!(
                            "Value column '{name}' of an AGGREGATE KEY table needs an aggregate type such as SUM, MAX, MIN or REPLACE"
                        ),
                    ));
                }
                _ => {}
            }
        }

        // In tables that merge rows by key, rows of one key must land in one partition and
        // one bucket, so partition and distribution columns must be keys.
        let must_be_key = keys_type != KeysType::Duplicate;
        let check_column = |(name, location): &LocatedName,
                            role: &str|
         -> Result<ColumnType, ParseError> {
            let Some(column) = find(name) else {
                return Err(
                    self.error_at(*location, format!("{role} column '{name}' doesn't exist"))
                );
            };
            if !column.definition.column_type.can_be_key() {
                return Err(self.error_at(
                    *location,
                    format!(
                        "Invalid {} column '{name}' of type {}: FLOAT, DOUBLE and JSON columns cannot be used",
                        role.to_ascii_lowercase(),
                        column.definition.column_type
                    ),
                ));
            }
            if must_be_key && !is_key(name) {
                return Err(self.error_at(
                    *location,
                    format!(
                        "{role} column '{name}' must be a key column in a {} table",
                        keys_type.keyword()
                    ),
                ));
            }
            Ok(column.definition.column_type)
        };
        if let Some((partition, partition_columns)) = &clauses.partition {
            for located in partition_columns {
                let column_type = check_column(located, "Partition")?;
                if let PartitionDesc::TimeExpression { unit, .. } = partition {
                    let valid = match column_type {
                        ColumnType::DateTime => true,
                        ColumnType::Date => unit != "hour",
                        _ => false,
                    };
                    if !valid {
                        return Err(self.error_at(
                            located.1,
                            format!(
                                "Partition column '{}' of type {column_type} cannot be partitioned by {unit}: use a DATETIME column{}",
                                located.0,
                                if column_type == ColumnType::Date { "" } else { " or a DATE column" }
                            ),
                        ));
                    }
                }
            }
        }
        if let Some((_, distribution_columns)) = &clauses.distribution {
            for located in distribution_columns {
                check_column(located, "Distribution")?;
            }
        }
        for (name, location) in clauses.order_by.iter().flatten().chain(index_columns) {
            if find(name).is_none() {
                return Err(self.error_at(*location, format!("Column '{name}' doesn't exist")));
            }
        }
        Ok(())
    }
}

impl TableClauses {
    fn into_definition(
        self,
        table: &QualifiedName,
        columns: Vec<cairn_common::ColumnDefinition>,
    ) -> TableDefinition {
        let (keys_type, key_columns) = match self.keys {
            Some((keys_type, names)) => {
                (keys_type, names.into_iter().map(|(name, _)| name).collect())
            }
            None => (KeysType::Duplicate, Vec::new()),
        };
        TableDefinition {
            name: table.name.clone(),
            columns,
            keys_type,
            key_columns,
            partition: self
                .partition
                .map_or(PartitionDesc::Unpartitioned, |(partition, _)| partition),
            distribution: self.distribution.map(|(distribution, _)| distribution),
            properties: self.properties.unwrap_or_default(),
            comment: self.comment.unwrap_or_default(),
        }
    }
}
