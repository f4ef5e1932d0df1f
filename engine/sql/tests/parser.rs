//! The public parser API on every statement form Cairn supports, and on the errors users see.

use std::collections::BTreeMap;

use cairn_common::{
    ColumnType, DefaultValue, DistributionDesc, KeysType, PartitionDesc, RangePartition,
    TableDefinition,
};
use cairn_sql::{
    AlterTableOperation, BackendOperation, ColumnPosition, GrantTarget, Insert, InsertSource, ParseError,
    QualifiedName, SetAssignment, ShowFilter, Statement, UserIdentity, VariableScope,
    parse_statement, parse_statements,
};
use datafusion::sql::sqlparser::ast::{Expr, Ident, SetExpr, Statement as SqlStatement, Value};

fn parse(sql: &str) -> Statement {
    parse_statement(sql).unwrap_or_else(|error| panic!("{sql}\nfailed: {error}"))
}

fn parse_error(sql: &str) -> ParseError {
    match parse_statement(sql) {
        Ok(statement) => panic!("{sql}\nparsed unexpectedly: {statement:?}"),
        Err(error) => error,
    }
}

/// Asserts the error message contains `expected` and returns the whole error for more checks.
fn assert_error(sql: &str, expected: &str) -> ParseError {
    let error = parse_error(sql);
    assert!(
        error.message.contains(expected),
        "{sql}\nerror {:?} does not contain {expected:?}",
        error.message
    );
    error
}

fn create_table(sql: &str) -> (QualifiedName, bool, TableDefinition) {
    match parse(sql) {
        Statement::CreateTable {
            table,
            if_not_exists,
            definition,
        } => (table, if_not_exists, definition),
        other => panic!("{sql}\nis not CREATE TABLE: {other:?}"),
    }
}

fn column_type(type_text: &str) -> ColumnType {
    let (_, _, definition) = create_table(&format!("CREATE TABLE t (c {type_text})"));
    definition.columns[0].column_type
}

fn name(database: Option<&str>, name: &str) -> QualifiedName {
    QualifiedName {
        database: database.map(str::to_string),
        name: name.to_string(),
    }
}

fn string(text: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(text.to_string()).into())
}

fn identifier(text: &str) -> Expr {
    Expr::Identifier(Ident::new(text))
}

fn user(name: &str, host: &str) -> UserIdentity {
    UserIdentity {
        name: name.to_string(),
        host: host.to_string(),
    }
}

fn set(sql: &str) -> Vec<SetAssignment> {
    match parse(sql) {
        Statement::Set(assignments) => assignments,
        other => panic!("{sql}\nis not SET: {other:?}"),
    }
}

fn insert(sql: &str) -> Insert {
    match parse(sql) {
        Statement::Insert(insert) => insert,
        other => panic!("{sql}\nis not INSERT: {other:?}"),
    }
}

fn is_query(statement: &Statement) -> bool {
    matches!(statement, Statement::Query(query) if matches!(**query, SqlStatement::Query(_)))
}

// ----- CREATE TABLE -----

#[test]
fn sensor_demo_table() {
    let (table, if_not_exists, definition) = create_table(
        "CREATE TABLE sensor_data (sensor_id INT, ts DATETIME NOT NULL, temperature DOUBLE, \
         humidity DOUBLE) DUPLICATE KEY(sensor_id, ts) PARTITION BY date_trunc('day', ts) \
         DISTRIBUTED BY HASH(sensor_id) BUCKETS 4 PROPERTIES(\"replication_num\"=\"1\")",
    );
    assert_eq!(table, name(None, "sensor_data"));
    assert!(!if_not_exists);
    assert_eq!(definition.name, "sensor_data");
    let columns: Vec<_> = definition
        .columns
        .iter()
        .map(|column| {
            (
                column.name.as_str(),
                column.column_type,
                column.nullable,
                column.is_key,
            )
        })
        .collect();
    assert_eq!(
        columns,
        vec![
            ("sensor_id", ColumnType::Int, true, true),
            ("ts", ColumnType::DateTime, false, true),
            ("temperature", ColumnType::Double, true, false),
            ("humidity", ColumnType::Double, true, false),
        ]
    );
    assert_eq!(definition.keys_type, KeysType::Duplicate);
    assert_eq!(definition.key_columns, vec!["sensor_id", "ts"]);
    assert_eq!(
        definition.partition,
        PartitionDesc::TimeExpression {
            column: "ts".into(),
            unit: "day".into()
        }
    );
    assert_eq!(
        definition.distribution,
        Some(DistributionDesc::Hash {
            columns: vec!["sensor_id".into()],
            buckets: Some(4)
        })
    );
    assert_eq!(
        definition.properties,
        BTreeMap::from([("replication_num".to_string(), "1".to_string())])
    );
    assert_eq!(definition.comment, "");
}

#[test]
fn docs_range_partitioned_table() {
    let (table, _, definition) = create_table(
        r#"CREATE TABLE example_db.table_range
        (
            k1 DATE,
            k2 INT,
            k3 SMALLINT,
            v1 VARCHAR(2048),
            v2 DATETIME DEFAULT "2014-02-04 15:36:00"
        )
        ENGINE=olap
        DUPLICATE KEY(k1, k2, k3)
        PARTITION BY RANGE (k1)
        (
            PARTITION p1 VALUES LESS THAN ("2014-01-01"),
            PARTITION p2 VALUES LESS THAN ("2014-06-01"),
            PARTITION p3 VALUES LESS THAN ("2014-12-01"),
            PARTITION p4 VALUES LESS THAN MAXVALUE
        )
        DISTRIBUTED BY HASH(k2)
        PROPERTIES(
            "storage_medium" = "SSD",
            "Storage_Cooldown_Time" = "2015-06-04 00:00:00"
        );"#,
    );
    assert_eq!(table, name(Some("example_db"), "table_range"));
    assert_eq!(
        definition.columns[3].column_type,
        ColumnType::Varchar { length: 2048 }
    );
    assert_eq!(
        definition.columns[4].default,
        Some(DefaultValue::Literal("2014-02-04 15:36:00".into()))
    );
    let less_than = |name: &str, upper: Option<&str>| RangePartition::LessThan {
        name: name.into(),
        upper: upper.map(|value| vec![value.to_string()]),
    };
    assert_eq!(
        definition.partition,
        PartitionDesc::Range {
            columns: vec!["k1".into()],
            partitions: vec![
                less_than("p1", Some("2014-01-01")),
                less_than("p2", Some("2014-06-01")),
                less_than("p3", Some("2014-12-01")),
                less_than("p4", None),
            ],
        }
    );
    assert_eq!(
        definition.distribution,
        Some(DistributionDesc::Hash {
            columns: vec!["k2".into()],
            buckets: None
        })
    );
    // Keys are lower-cased, values kept.
    assert_eq!(
        definition
            .properties
            .get("storage_cooldown_time")
            .map(String::as_str),
        Some("2015-06-04 00:00:00")
    );
}

#[test]
fn docs_fixed_range_and_batch_partitions() {
    let (_, _, definition) = create_table(
        r#"CREATE TABLE t (k1 DATE, k2 INT, k3 BIGINT, v INT)
        DUPLICATE KEY(k1, k2, k3)
        PARTITION BY RANGE (k1, k2, k3) (
            PARTITION p1 VALUES [("2014-01-01", "10", "200"), ("2014-01-01", "20", "300")),
            PARTITION IF NOT EXISTS p2 VALUES [("2014-06-01", "100", "200"), ("2014-07-01", 100, -300)),
            PARTITION p3 VALUES LESS THAN (MAXVALUE)
        ) DISTRIBUTED BY RANDOM BUCKETS 3"#,
    );
    assert_eq!(
        definition.partition,
        PartitionDesc::Range {
            columns: vec!["k1".into(), "k2".into(), "k3".into()],
            partitions: vec![
                RangePartition::Fixed {
                    name: "p1".into(),
                    lower: vec!["2014-01-01".into(), "10".into(), "200".into()],
                    upper: vec!["2014-01-01".into(), "20".into(), "300".into()],
                },
                RangePartition::Fixed {
                    name: "p2".into(),
                    lower: vec!["2014-06-01".into(), "100".into(), "200".into()],
                    upper: vec!["2014-07-01".into(), "100".into(), "-300".into()],
                },
                RangePartition::LessThan {
                    name: "p3".into(),
                    upper: None
                },
            ],
        }
    );
    assert_eq!(
        definition.distribution,
        Some(DistributionDesc::Random { buckets: Some(3) })
    );

    let (_, _, definition) = create_table(
        r#"CREATE TABLE site_access (datekey DATE, site_id INT, pv BIGINT)
        DUPLICATE KEY(datekey, site_id)
        PARTITION BY RANGE (datekey) (
            START ("2021-01-01") END ("2021-01-04") EVERY (INTERVAL 1 DAY),
            PARTITION p_old VALUES LESS THAN ("2020-01-01")
        )
        DISTRIBUTED BY HASH(site_id)"#,
    );
    let PartitionDesc::Range { partitions, .. } = definition.partition else {
        panic!("not a range partition");
    };
    assert_eq!(
        partitions[0],
        RangePartition::Batch {
            start: "2021-01-01".into(),
            end: "2021-01-04".into(),
            step: 1,
            unit: Some("day".into())
        }
    );

    let (_, _, definition) = create_table(
        "CREATE TABLE t (id INT, v INT) PARTITION BY RANGE (id) \
         (START (\"1\") END (\"10\") EVERY (2)) DISTRIBUTED BY HASH(id)",
    );
    assert_eq!(
        definition.partition,
        PartitionDesc::Range {
            columns: vec!["id".into()],
            partitions: vec![RangePartition::Batch {
                start: "1".into(),
                end: "10".into(),
                step: 2,
                unit: None
            }],
        }
    );

    let (_, _, definition) =
        create_table("CREATE TABLE t (d DATE, v INT) PARTITION BY RANGE(d) ()");
    assert_eq!(
        definition.partition,
        PartitionDesc::Range {
            columns: vec!["d".into()],
            partitions: vec![]
        }
    );
}

#[test]
fn docs_primary_key_table() {
    let (_, _, definition) = create_table(
        r#"CREATE TABLE orders (
            order_id bigint NOT NULL,
            dt date NOT NULL,
            merchant_id int NOT NULL,
            good_name string NOT NULL,
            price int NOT NULL,
            state tinyint NOT NULL
        )
        PRIMARY KEY (order_id, dt)
        PARTITION BY RANGE(`dt`) (
            PARTITION p20210820 VALUES [('2021-08-20'), ('2021-08-21')),
            PARTITION p20210821 VALUES [('2021-08-21'), ('2021-08-22'))
        )
        DISTRIBUTED BY HASH(order_id)
        ORDER BY (dt, merchant_id)
        PROPERTIES ("replication_num" = "3", "enable_persistent_index" = "true")"#,
    );
    assert_eq!(definition.keys_type, KeysType::Primary);
    assert_eq!(definition.key_columns, vec!["order_id", "dt"]);
    assert_eq!(definition.columns[3].column_type, ColumnType::String);
    assert!(definition.columns[0].is_key && definition.columns[1].is_key);
    assert!(!definition.columns[2].is_key);
    assert_eq!(definition.properties.len(), 2);
}

#[test]
fn primary_key_columns_become_not_null() {
    let (_, _, definition) = create_table(
        "CREATE TABLE users (id BIGINT, name VARCHAR(64)) PRIMARY KEY(id) DISTRIBUTED BY HASH(id)",
    );
    assert!(!definition.columns[0].nullable);
    assert!(definition.columns[1].nullable);
    assert_error(
        "CREATE TABLE users (id BIGINT NULL, name VARCHAR(64)) PRIMARY KEY(id)",
        "Primary key column 'id' cannot be nullable",
    );
}

#[test]
fn docs_aggregate_table_with_bitmap_index() {
    let (table, _, definition) = create_table(
        r#"CREATE TABLE example_db.table_hash
        (
            k1 TINYINT,
            k2 DECIMAL(10, 2) DEFAULT "10.5",
            v1 CHAR(10) REPLACE,
            v2 INT SUM,
            INDEX k1_idx (k1) USING BITMAP COMMENT 'xxxxxx'
        )
        ENGINE=olap
        AGGREGATE KEY(k1, k2)
        COMMENT "my first starrocks table"
        DISTRIBUTED BY HASH(k1)
        PROPERTIES ("storage_type"="column");"#,
    );
    assert_eq!(table.database.as_deref(), Some("example_db"));
    assert_eq!(definition.keys_type, KeysType::Aggregate);
    assert_eq!(definition.comment, "my first starrocks table");
    assert_eq!(definition.columns.len(), 4);
    assert_eq!(
        definition.columns[1].column_type,
        ColumnType::Decimal {
            precision: 10,
            scale: 2
        }
    );
    assert_eq!(
        definition.columns[2].column_type,
        ColumnType::Char { length: 10 }
    );
    assert_error(
        "CREATE TABLE t (k INT, v INT SUM) DUPLICATE KEY(k)",
        "Aggregate type SUM of column 'v' is only allowed in AGGREGATE KEY tables",
    );
    assert_error(
        "CREATE TABLE t (k INT, v INT) AGGREGATE KEY(k)",
        "Value column 'v' of an AGGREGATE KEY table needs an aggregate type",
    );
}

#[test]
fn column_options() {
    let (_, if_not_exists, definition) = create_table(
        "CREATE TABLE IF NOT EXISTS db.t (\
           `id` INT(11) NOT NULL KEY COMMENT 'the id', \
           created DATETIME DEFAULT CURRENT_TIMESTAMP, \
           n INT DEFAULT '5', \
           m BIGINT DEFAULT -1, \
           flag BOOLEAN DEFAULT NULL)",
    );
    assert!(if_not_exists);
    let id = &definition.columns[0];
    assert_eq!(
        (id.name.as_str(), id.nullable, id.comment.as_str()),
        ("id", false, "the id")
    );
    assert_eq!(
        definition.columns[1].default,
        Some(DefaultValue::CurrentTimestamp)
    );
    assert_eq!(
        definition.columns[2].default,
        Some(DefaultValue::Literal("5".into()))
    );
    assert_eq!(
        definition.columns[3].default,
        Some(DefaultValue::Literal("-1".into()))
    );
    assert_eq!(definition.columns[4].default, Some(DefaultValue::Null));
    // An inline KEY stands for the key clause.
    assert!(definition.columns[0].is_key);
    assert_eq!(definition.key_columns, vec!["id"]);
    assert_eq!(definition.partition, PartitionDesc::Unpartitioned);
    assert_eq!(definition.distribution, None);
    assert_eq!(definition.keys_type, KeysType::Duplicate);

    assert_error(
        "CREATE TABLE t (a INT NOT NULL DEFAULT NULL)",
        "a NOT NULL column cannot default to NULL",
    );
    assert_error(
        "CREATE TABLE t (a INT AUTO_INCREMENT)",
        "AUTO_INCREMENT is not supported yet",
    );
    assert_error("CREATE TABLE t (a INT NOTNULL)", "Expected a column option");
}

#[test]
fn column_types() {
    let cases = [
        ("BOOLEAN", ColumnType::Boolean),
        ("bool", ColumnType::Boolean),
        ("TINYINT", ColumnType::TinyInt),
        ("tinyint(4)", ColumnType::TinyInt),
        ("SMALLINT", ColumnType::SmallInt),
        ("INT", ColumnType::Int),
        ("integer", ColumnType::Int),
        ("int(11)", ColumnType::Int),
        ("BIGINT(20)", ColumnType::BigInt),
        ("LARGEINT", ColumnType::LargeInt),
        ("FLOAT", ColumnType::Float),
        ("DOUBLE", ColumnType::Double),
        (
            "DECIMAL",
            ColumnType::Decimal {
                precision: 10,
                scale: 0,
            },
        ),
        (
            "DECIMAL(27, 9)",
            ColumnType::Decimal {
                precision: 27,
                scale: 9,
            },
        ),
        (
            "decimal(38)",
            ColumnType::Decimal {
                precision: 38,
                scale: 0,
            },
        ),
        (
            "DECIMALV2(10,3)",
            ColumnType::Decimal {
                precision: 10,
                scale: 3,
            },
        ),
        (
            "DECIMAL32(9, 2)",
            ColumnType::Decimal {
                precision: 9,
                scale: 2,
            },
        ),
        (
            "DECIMAL64(18, 4)",
            ColumnType::Decimal {
                precision: 18,
                scale: 4,
            },
        ),
        (
            "DECIMAL128(38, 10)",
            ColumnType::Decimal {
                precision: 38,
                scale: 10,
            },
        ),
        ("DATE", ColumnType::Date),
        ("DATETIME", ColumnType::DateTime),
        ("CHAR", ColumnType::Char { length: 1 }),
        ("CHAR(20)", ColumnType::Char { length: 20 }),
        ("VARCHAR", ColumnType::Varchar { length: 1 }),
        ("VARCHAR(65533)", ColumnType::Varchar { length: 65533 }),
        (
            "varchar(1048576)",
            ColumnType::Varchar { length: 1_048_576 },
        ),
        ("STRING", ColumnType::String),
        ("JSON", ColumnType::Json),
    ];
    for (text, expected) in cases {
        assert_eq!(column_type(text), expected, "{text}");
    }
}

#[test]
fn column_type_errors() {
    assert_error(
        "CREATE TABLE t (a DECIMAL(39, 2))",
        "The precision of DECIMAL must be between 1 and 38, found 39",
    );
    assert_error(
        "CREATE TABLE t (a DECIMAL(0))",
        "The precision of DECIMAL must be between 1 and 38, found 0",
    );
    assert_error(
        "CREATE TABLE t (a DECIMAL(10, 11))",
        "The scale of DECIMAL(10,11) must not exceed its precision 10",
    );
    assert_error(
        "CREATE TABLE t (a DECIMAL32(10, 2))",
        "The precision of DECIMAL32 must be between 1 and 9, found 10",
    );
    assert_error(
        "CREATE TABLE t (a VARCHAR(0))",
        "The length of VARCHAR must be between 1 and 1048576, found 0",
    );
    assert_error(
        "CREATE TABLE t (a VARCHAR(1048577))",
        "The length of VARCHAR must be between 1 and 1048576, found 1048577",
    );
    assert_error(
        "CREATE TABLE t (a CHAR(256))",
        "The length of CHAR must be between 1 and 255",
    );
    assert_error("CREATE TABLE t (a FOO)", "Unknown column type 'FOO'");
    assert_error(
        "CREATE TABLE t (a ARRAY<INT>)",
        "Column type ARRAY is not supported yet",
    );
    assert_error(
        "CREATE TABLE t (a INT UNSIGNED)",
        "UNSIGNED integer types is not supported yet",
    );
    assert_error(
        "CREATE TABLE t (a DECIMAL(10, 2, 1))",
        "DECIMAL takes at most 2 arguments",
    );
    let error = parse_error("CREATE TABLE t (\n  a INT,\n  b DECIMAL(40, 2)\n)");
    assert_eq!((error.line, error.column), (Some(3), Some(5)));
    assert_eq!(
        error.to_string(),
        "The precision of DECIMAL must be between 1 and 38, found 40 at line 3, column 5"
    );
}

#[test]
fn create_table_semantic_errors() {
    let error = assert_error(
        "CREATE TABLE t (a INT, b INT, a BIGINT)",
        "Duplicate column name 'a'",
    );
    assert_eq!((error.line, error.column), (Some(1), Some(31)));
    assert_error(
        "CREATE TABLE t (a INT, b INT, A BIGINT)",
        "Duplicate column name 'A'",
    );
    let error = assert_error(
        "CREATE TABLE t (a INT, b INT) DUPLICATE KEY(a, c)",
        "Key column 'c' doesn't exist",
    );
    assert_eq!(error.column, Some(48));
    assert_error(
        "CREATE TABLE t (a INT, b INT, c INT) PRIMARY KEY(a, c)",
        "Key columns should be a ordered prefix of the schema. KeyColumns[1] (starts from zero) is c, \
         but corresponding column is b",
    );
    assert_error(
        "CREATE TABLE t (a INT, b INT) DUPLICATE KEY(a, a)",
        "Duplicate key column 'a'",
    );
    assert_error(
        "CREATE TABLE t (a DOUBLE, b INT) DUPLICATE KEY(a)",
        "Invalid key column 'a' of type double",
    );
    assert_error(
        "CREATE TABLE t (a INT, b INT) DISTRIBUTED BY HASH(c) BUCKETS 1",
        "Distribution column 'c' doesn't exist",
    );
    assert_error(
        "CREATE TABLE t (a INT, b INT) PRIMARY KEY(a) DISTRIBUTED BY HASH(b)",
        "Distribution column 'b' must be a key column in a PRIMARY KEY table",
    );
    assert_error(
        "CREATE TABLE t (a INT, b INT) DISTRIBUTED BY HASH(a) BUCKETS 0",
        "The number of buckets must be between 1",
    );
    assert_error(
        "CREATE TABLE t (a INT, d DATE) PARTITION BY RANGE(x) ()",
        "Partition column 'x' doesn't exist",
    );
    assert_error(
        "CREATE TABLE t (a INT, d DATE) PARTITION BY date_trunc('day', x)",
        "Partition column 'x' doesn't exist",
    );
    assert_error(
        "CREATE TABLE t (a INT, d DATE) PARTITION BY date_trunc('hour', d)",
        "Partition column 'd' of type date cannot be partitioned by hour",
    );
    assert_error(
        "CREATE TABLE t (a INT, d VARCHAR(10)) PARTITION BY date_trunc('day', d)",
        "Partition column 'd' of type varchar(10) cannot be partitioned by day",
    );
    assert_error(
        "CREATE TABLE t (a INT, d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2020-01-01'), \
         PARTITION P1 VALUES LESS THAN ('2021-01-01'))",
        "Duplicate partition name 'P1'",
    );
    assert_error(
        "CREATE TABLE t (a INT, d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2020-01-01', '1'))",
        "The partition has 2 values but the table is partitioned by 1 column",
    );
    assert_error(
        "CREATE TABLE t (a INT) ORDER BY (b)",
        "Column 'b' doesn't exist",
    );
    assert_error(
        "CREATE TABLE t (a INT, INDEX i (b) USING BITMAP)",
        "Column 'b' doesn't exist",
    );
    assert_error(
        "CREATE TABLE t (a INT) ENGINE = mysql",
        "Unsupported table engine 'mysql'",
    );
    assert_error(
        "CREATE TABLE t (a INT) PROPERTIES ('a' = '1', 'A' = '2')",
        "Duplicate property 'a'",
    );
    assert_error(
        "CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) DISTRIBUTED BY HASH(a)",
        "Duplicate DISTRIBUTED BY clause",
    );
    assert_error(
        "CREATE TABLE t",
        "Expected '(' with column definitions, or AS SELECT",
    );
}

#[test]
fn expression_partitioning() {
    let (_, _, definition) = create_table(
        "CREATE TABLE logs (event_time DATETIME NOT NULL, msg STRING) \
         PARTITION BY time_slice(event_time, INTERVAL 1 day) DISTRIBUTED BY RANDOM",
    );
    assert_eq!(
        definition.partition,
        PartitionDesc::TimeExpression {
            column: "event_time".into(),
            unit: "day".into()
        }
    );
    assert_eq!(
        definition.distribution,
        Some(DistributionDesc::Random { buckets: None })
    );
    for (sql_unit, unit) in [
        ("'HOUR'", "hour"),
        ("'month'", "month"),
        ("\"year\"", "year"),
        ("'week'", "week"),
    ] {
        let (_, _, definition) = create_table(&format!(
            "CREATE TABLE t (ts DATETIME) PARTITION BY date_trunc({sql_unit}, ts)"
        ));
        assert_eq!(
            definition.partition,
            PartitionDesc::TimeExpression {
                column: "ts".into(),
                unit: unit.into()
            }
        );
    }
    assert_error(
        "CREATE TABLE t (ts DATETIME) PARTITION BY date_trunc('minute', ts)",
        "Unsupported date_trunc unit 'minute'",
    );
    assert_error(
        "CREATE TABLE t (ts DATETIME) PARTITION BY time_slice(ts, INTERVAL 1 week)",
        "Unsupported time_slice unit 'week'",
    );
    assert_error(
        "CREATE TABLE t (ts DATETIME) PARTITION BY time_slice(ts, INTERVAL 7 day)",
        "is not supported yet",
    );
    assert_error(
        "CREATE TABLE t (city VARCHAR(10), v INT) PARTITION BY (city)",
        "Partitioning by column values (PARTITION BY column) is not supported yet",
    );
    assert_error(
        "CREATE TABLE t (city VARCHAR(10), v INT) PARTITION BY city",
        "Partitioning by column values (PARTITION BY column) is not supported yet",
    );
    assert_error(
        "CREATE TABLE t (city VARCHAR(10), v INT) PARTITION BY LIST (city) ()",
        "List partitioning (PARTITION BY LIST) is not supported yet",
    );
}

#[test]
fn create_table_as_select_and_like() {
    let statement = parse(
        "CREATE TABLE IF NOT EXISTS db.summary PRIMARY KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2 \
         PROPERTIES('replication_num' = '1') AS SELECT id, count(*) AS n FROM events GROUP BY id",
    );
    let Statement::CreateTableAsSelect {
        table,
        if_not_exists,
        definition,
        query,
    } = statement
    else {
        panic!("not CTAS: {statement:?}");
    };
    assert_eq!(table, name(Some("db"), "summary"));
    assert!(if_not_exists);
    assert!(definition.columns.is_empty());
    assert_eq!(definition.keys_type, KeysType::Primary);
    assert_eq!(definition.key_columns, vec!["id"]);
    assert_eq!(
        definition
            .properties
            .get("replication_num")
            .map(String::as_str),
        Some("1")
    );
    assert!(
        query
            .to_string()
            .starts_with("SELECT id, count(*) AS n FROM events")
    );

    assert!(matches!(
        parse("CREATE TABLE t AS SELECT 1"),
        Statement::CreateTableAsSelect { .. }
    ));
    assert_error(
        "CREATE TABLE t (a INT) AS SELECT 1",
        "takes its columns from the query",
    );
    assert_error(
        "CREATE TABLE t LIKE t2",
        "CREATE TABLE ... LIKE is not supported yet",
    );
}

// ----- Other DDL -----

#[test]
fn databases() {
    assert_eq!(
        parse("CREATE DATABASE IF NOT EXISTS sales"),
        Statement::CreateDatabase {
            name: "sales".into(),
            if_not_exists: true
        }
    );
    assert_eq!(
        parse("create schema `my db` PROPERTIES ('replication_num' = '1')"),
        Statement::CreateDatabase {
            name: "my db".into(),
            if_not_exists: false
        }
    );
    assert_eq!(
        parse("CREATE DATABASE d DEFAULT CHARACTER SET utf8mb4 COLLATE = utf8mb4_bin"),
        Statement::CreateDatabase {
            name: "d".into(),
            if_not_exists: false
        }
    );
    assert_eq!(
        parse("DROP DATABASE IF EXISTS sales FORCE"),
        Statement::DropDatabase {
            name: "sales".into(),
            if_exists: true
        }
    );
    assert_eq!(
        parse("drop schema sales"),
        Statement::DropDatabase {
            name: "sales".into(),
            if_exists: false
        }
    );
    assert_eq!(
        parse("DROP DATABASE default_catalog.sales"),
        Statement::DropDatabase {
            name: "sales".into(),
            if_exists: false
        }
    );
}

#[test]
fn drop_truncate_alter_table() {
    assert_eq!(
        parse("DROP TABLE IF EXISTS db.t FORCE"),
        Statement::DropTable {
            table: name(Some("db"), "t"),
            if_exists: true
        }
    );
    assert_eq!(
        parse("DROP TABLE t"),
        Statement::DropTable {
            table: name(None, "t"),
            if_exists: false
        }
    );
    assert_eq!(
        parse("TRUNCATE TABLE db.t PARTITION (p1, p2)"),
        Statement::TruncateTable {
            table: name(Some("db"), "t"),
            partitions: vec!["p1".into(), "p2".into()]
        }
    );
    assert_eq!(
        parse("TRUNCATE TABLE t"),
        Statement::TruncateTable {
            table: name(None, "t"),
            partitions: vec![]
        }
    );

    let Statement::AlterTable { table, operations } = parse(
        "ALTER TABLE db.t ADD COLUMN c VARCHAR(10) DEFAULT 'x' AFTER b, \
         ADD COLUMN d INT FIRST, DROP COLUMN e, ADD COLUMN f BIGINT",
    ) else {
        panic!("not ALTER TABLE");
    };
    assert_eq!(table, name(Some("db"), "t"));
    assert_eq!(operations.len(), 4);
    let AlterTableOperation::AddColumn { column, position } = &operations[0] else {
        panic!("not ADD COLUMN");
    };
    assert_eq!(column.name, "c");
    assert_eq!(column.column_type, ColumnType::Varchar { length: 10 });
    assert_eq!(column.default, Some(DefaultValue::Literal("x".into())));
    assert_eq!(position, &ColumnPosition::After("b".into()));
    assert!(matches!(
        &operations[1],
        AlterTableOperation::AddColumn {
            position: ColumnPosition::First,
            ..
        }
    ));
    assert_eq!(
        operations[2],
        AlterTableOperation::DropColumn { name: "e".into() }
    );
    assert!(matches!(
        &operations[3],
        AlterTableOperation::AddColumn {
            position: ColumnPosition::Last,
            ..
        }
    ));

    let Statement::AlterTable { operations, .. } =
        parse("ALTER TABLE t ADD COLUMN (x INT, y DOUBLE NOT NULL)")
    else {
        panic!("not ALTER TABLE");
    };
    let names: Vec<_> = operations
        .iter()
        .map(|operation| match operation {
            AlterTableOperation::AddColumn { column, position } => {
                (column.name.clone(), position.clone())
            }
            AlterTableOperation::DropColumn { name } => (name.clone(), ColumnPosition::Last),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("x".to_string(), ColumnPosition::Last),
            ("y".to_string(), ColumnPosition::Last)
        ]
    );
    assert_error(
        "ALTER TABLE t MODIFY COLUMN a BIGINT",
        "ALTER TABLE ... MODIFY is not supported yet",
    );
    assert_error(
        "ALTER TABLE t RENAME t2",
        "ALTER TABLE ... RENAME is not supported yet",
    );
    assert_error(
        "ALTER SYSTEM ADD FRONTEND 'fe:9010'",
        "ALTER SYSTEM ... FRONTEND is not supported yet",
    );
    assert_error(
        "ALTER SYSTEM MODIFY BACKEND HOST 'a' TO 'b'",
        "ALTER SYSTEM MODIFY is not supported yet",
    );
    assert_error("ALTER SYSTEM ADD BACKEND be", "a backend address");
    assert_error("ALTER SYSTEM ADD BACKEND 'a:1' 'b:2'", "',' or the end of the statement");
}

#[test]
fn alter_system_backends() {
    assert_eq!(
        parse("ALTER SYSTEM ADD BACKEND 'be:9050'"),
        Statement::AlterSystem { operation: BackendOperation::Add, backends: vec!["be:9050".into()] }
    );
    assert_eq!(
        parse("alter system drop backend \"a:9050\", 'b:9050'"),
        Statement::AlterSystem {
            operation: BackendOperation::Drop,
            backends: vec!["a:9050".into(), "b:9050".into()]
        }
    );
    assert_eq!(
        parse("ALTER SYSTEM DECOMMISSION BACKEND 'be-2.be:9050'"),
        Statement::AlterSystem {
            operation: BackendOperation::Decommission,
            backends: vec!["be-2.be:9050".into()]
        }
    );
}

// ----- DML -----

#[test]
fn insert_forms() {
    let insert_statement = insert("INSERT INTO db.t (a, b) VALUES (1, 'x'), (2, 'y')");
    assert_eq!(insert_statement.table, name(Some("db"), "t"));
    assert!(!insert_statement.overwrite);
    assert_eq!(insert_statement.columns, vec!["a", "b"]);
    assert_eq!(insert_statement.label, None);
    let InsertSource::Query(query) = &insert_statement.source;
    let SetExpr::Values(values) = query.body.as_ref() else {
        panic!("not VALUES: {query}");
    };
    assert_eq!(values.rows.len(), 2);

    let insert_statement =
        insert("INSERT OVERWRITE t PARTITION (p1, p2) WITH LABEL my_label SELECT * FROM s");
    assert!(insert_statement.overwrite);
    assert_eq!(insert_statement.partitions, vec!["p1", "p2"]);
    assert_eq!(insert_statement.label.as_deref(), Some("my_label"));
    assert!(insert_statement.columns.is_empty());

    let insert_statement = insert("INSERT OVERWRITE TABLE t SELECT 1");
    assert!(insert_statement.overwrite);
    assert_eq!(insert_statement.table, name(None, "t"));

    let insert_statement =
        insert("INSERT INTO t WITH LABEL `l1` (c) WITH x AS (SELECT 1 AS c) SELECT c FROM x");
    assert_eq!(insert_statement.label.as_deref(), Some("l1"));
    assert_eq!(insert_statement.columns, vec!["c"]);
    let InsertSource::Query(query) = &insert_statement.source;
    assert!(query.with.is_some());

    let insert_statement = insert("insert into t with label 'l2' partition(p) (SELECT 1)");
    assert_eq!(insert_statement.label.as_deref(), Some("l2"));
    assert_eq!(insert_statement.partitions, vec!["p"]);
    assert!(insert_statement.columns.is_empty());

    assert_error("INSERT t VALUES (1)", "Expected INTO or OVERWRITE");
    assert_error(
        "INSERT INTO t (a) SET a = 1",
        "Expected VALUES, SELECT or WITH",
    );
    assert_error("INSERT INTO t VALUES (1", "Expected");
}

#[test]
fn delete_forms() {
    let Statement::Delete {
        table,
        partitions,
        selection,
    } = parse("DELETE FROM db.t PARTITION p1 WHERE a = 1 AND b > 'x'")
    else {
        panic!("not DELETE");
    };
    assert_eq!(table, name(Some("db"), "t"));
    assert_eq!(partitions, vec!["p1"]);
    assert_eq!(
        selection.map(|expr| expr.to_string()).as_deref(),
        Some("a = 1 AND b > 'x'")
    );
    assert_eq!(
        parse("DELETE FROM t"),
        Statement::Delete {
            table: name(None, "t"),
            partitions: vec![],
            selection: None
        }
    );
}

// ----- Session -----

#[test]
fn use_database() {
    assert_eq!(
        parse("USE sales"),
        Statement::Use {
            database: "sales".into()
        }
    );
    assert_eq!(
        parse("use `sales`"),
        Statement::Use {
            database: "sales".into()
        }
    );
    assert_eq!(
        parse("USE default_catalog.sales"),
        Statement::Use {
            database: "sales".into()
        }
    );
}

#[test]
fn set_names_and_charset() {
    assert_eq!(
        set("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"),
        vec![SetAssignment::Names {
            charset: "utf8mb4".into(),
            collation: Some("utf8mb4_unicode_ci".into())
        }]
    );
    assert_eq!(
        set("SET NAMES 'utf8'"),
        vec![SetAssignment::Names {
            charset: "utf8".into(),
            collation: None
        }]
    );
    assert_eq!(
        set("SET CHARACTER SET utf8"),
        vec![SetAssignment::Names {
            charset: "utf8".into(),
            collation: None
        }]
    );
}

#[test]
fn set_variables() {
    let variable = |scope, name: &str, value| SetAssignment::Variable {
        scope,
        name: name.into(),
        value,
    };
    use VariableScope::{Global, Session};
    assert_eq!(
        set("SET time_zone = '+00:00'"),
        vec![variable(Session, "time_zone", string("+00:00"))]
    );
    let autocommit = set("SET autocommit=1");
    let SetAssignment::Variable { scope, name, value } = &autocommit[0] else {
        panic!("not a variable");
    };
    assert_eq!(
        (scope, name.as_str(), value.to_string().as_str()),
        (&Session, "autocommit", "1")
    );
    assert_eq!(
        set("SET sql_mode='STRICT_TRANS_TABLES'"),
        vec![variable(Session, "sql_mode", string("STRICT_TRANS_TABLES"))]
    );
    assert_eq!(
        set("SET @@session.Query_Timeout = 'x'"),
        vec![variable(Session, "query_timeout", string("x"))]
    );
    assert_eq!(
        set("SET @@x = 'v'"),
        vec![variable(Session, "x", string("v"))]
    );
    assert_eq!(
        set("SET SESSION x = 'v'"),
        vec![variable(Session, "x", string("v"))]
    );
    assert_eq!(
        set("SET GLOBAL x = 'v'"),
        vec![variable(Global, "x", string("v"))]
    );
    assert_eq!(
        set("SET @@GLOBAL.x='v'"),
        vec![variable(Global, "x", string("v"))]
    );
    assert_eq!(
        set("SET LOCAL x = ON"),
        vec![variable(Session, "x", identifier("ON"))]
    );
    assert_eq!(
        set("SET character_set_results = utf8mb4, net_write_timeout := 'a'"),
        vec![
            variable(Session, "character_set_results", identifier("utf8mb4")),
            variable(Session, "net_write_timeout", string("a"))
        ]
    );
    assert_eq!(
        set("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"),
        vec![variable(
            Session,
            "transaction_isolation",
            string("READ-COMMITTED")
        )]
    );
    assert_eq!(
        set("SET GLOBAL TRANSACTION READ ONLY"),
        vec![variable(Global, "transaction_read_only", string("ON"))]
    );
    let user_variable = set("SET @u = 1");
    let SetAssignment::UserVariable { name, value } = &user_variable[0] else {
        panic!("not a user variable");
    };
    assert_eq!((name.as_str(), value.to_string().as_str()), ("u", "1"));
    let mixed = set("SET NAMES utf8, @@sql_mode = CONCAT(@@sql_mode, ',X')");
    assert_eq!(mixed.len(), 2);
    assert_error("SET x", "Expected '='");
}

#[test]
fn set_password() {
    assert_eq!(
        set("SET PASSWORD = PASSWORD('secret')"),
        vec![SetAssignment::Password {
            user: None,
            password: "secret".into()
        }]
    );
    assert_eq!(
        set("SET PASSWORD FOR 'jack'@'%' = 'secret'"),
        vec![SetAssignment::Password {
            user: Some(user("jack", "%")),
            password: "secret".into()
        }]
    );
    assert_error(
        "SET PASSWORD = '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'",
        "is not supported yet",
    );
}

#[test]
fn kill_and_transactions_and_no_ops() {
    assert_eq!(
        parse("KILL 42"),
        Statement::Kill {
            connection_id: 42,
            query_only: false
        }
    );
    assert_eq!(
        parse("KILL CONNECTION 7"),
        Statement::Kill {
            connection_id: 7,
            query_only: false
        }
    );
    assert_eq!(
        parse("kill query 7"),
        Statement::Kill {
            connection_id: 7,
            query_only: true
        }
    );
    for sql in [
        "BEGIN",
        "begin work",
        "START TRANSACTION",
        "START TRANSACTION WITH CONSISTENT SNAPSHOT",
        "COMMIT",
        "COMMIT WORK",
        "ROLLBACK",
        "rollback work and no chain",
    ] {
        assert_eq!(parse(sql), Statement::TransactionControl, "{sql}");
    }
    assert_eq!(
        parse("ANALYZE TABLE db.t  WITH SYNC MODE"),
        Statement::NoOp {
            statement: "ANALYZE TABLE db.t  WITH SYNC MODE".into()
        }
    );
    assert_eq!(
        parse("ADMIN SET FRONTEND CONFIG ('a' = 'b');"),
        Statement::NoOp {
            statement: "ADMIN SET FRONTEND CONFIG ('a' = 'b')".into()
        }
    );
    assert!(matches!(
        parse("REFRESH EXTERNAL TABLE t"),
        Statement::NoOp { .. }
    ));
}

#[test]
fn explain_and_describe() {
    let Statement::Explain {
        analyze,
        verbose,
        query,
    } = parse("EXPLAIN SELECT * FROM t")
    else {
        panic!("not EXPLAIN");
    };
    assert!(!analyze && !verbose);
    assert!(is_query(&query));
    let Statement::Explain {
        analyze, verbose, ..
    } = parse("EXPLAIN VERBOSE SELECT 1")
    else {
        panic!("not EXPLAIN");
    };
    assert!(!analyze && verbose);
    let Statement::Explain {
        analyze, verbose, ..
    } = parse("explain costs select 1")
    else {
        panic!("not EXPLAIN");
    };
    assert!(!analyze && verbose);
    let Statement::Explain { analyze, query, .. } = parse("EXPLAIN ANALYZE INSERT INTO t SELECT 1")
    else {
        panic!("not EXPLAIN");
    };
    assert!(analyze);
    assert!(matches!(*query, Statement::Insert(_)));
    let Statement::Explain { query, .. } = parse("DESCRIBE SELECT 1") else {
        panic!("not EXPLAIN");
    };
    assert!(is_query(&query));
    assert!(matches!(
        parse("DESC WITH x AS (SELECT 1) SELECT * FROM x"),
        Statement::Explain { .. }
    ));

    assert_eq!(
        parse("DESC db.t"),
        Statement::Describe {
            table: name(Some("db"), "t"),
            all: false
        }
    );
    assert_eq!(
        parse("DESCRIBE t ALL"),
        Statement::Describe {
            table: name(None, "t"),
            all: true
        }
    );
    assert_error("EXPLAIN", "Expected a statement");
    assert_error(
        "EXPLAIN EXPLAIN SELECT 1",
        "EXPLAIN cannot explain another EXPLAIN",
    );
    assert_error("USE a.b.c", "Expected the end of the statement, found '.'");
}

// ----- SHOW -----

#[test]
fn show_databases_tables_columns() {
    assert_eq!(
        parse("SHOW DATABASES"),
        Statement::ShowDatabases { filter: None }
    );
    assert_eq!(
        parse("show schemas like 'a%'"),
        Statement::ShowDatabases {
            filter: Some(ShowFilter::Like("a%".into()))
        }
    );
    let Statement::ShowDatabases {
        filter: Some(ShowFilter::Where(condition)),
    } = parse("SHOW DATABASES WHERE `Database` = 'x'")
    else {
        panic!("not SHOW DATABASES WHERE");
    };
    assert_eq!(condition.to_string(), "`Database` = 'x'");
    assert_eq!(
        parse("SHOW TABLES"),
        Statement::ShowTables {
            full: false,
            database: None,
            filter: None
        }
    );
    assert_eq!(
        parse("SHOW FULL TABLES FROM db LIKE 't%'"),
        Statement::ShowTables {
            full: true,
            database: Some("db".into()),
            filter: Some(ShowFilter::Like("t%".into()))
        }
    );
    assert_eq!(
        parse("SHOW TABLES IN db"),
        Statement::ShowTables {
            full: false,
            database: Some("db".into()),
            filter: None
        }
    );
    assert_eq!(
        parse("SHOW FULL COLUMNS FROM t FROM db LIKE 'a%'"),
        Statement::ShowColumns {
            full: true,
            table: name(Some("db"), "t"),
            filter: Some(ShowFilter::Like("a%".into()))
        }
    );
    assert_eq!(
        parse("SHOW FIELDS IN db.t"),
        Statement::ShowColumns {
            full: false,
            table: name(Some("db"), "t"),
            filter: None
        }
    );
}

#[test]
fn show_other_statements() {
    assert_eq!(
        parse("SHOW CREATE TABLE db.t"),
        Statement::ShowCreateTable {
            table: name(Some("db"), "t")
        }
    );
    assert_eq!(
        parse("SHOW CREATE DATABASE db"),
        Statement::ShowCreateDatabase { name: "db".into() }
    );
    assert_eq!(
        parse("SHOW VARIABLES LIKE 'version%'"),
        Statement::ShowVariables {
            scope: VariableScope::Session,
            filter: Some(ShowFilter::Like("version%".into()))
        }
    );
    assert_eq!(
        parse("SHOW GLOBAL VARIABLES"),
        Statement::ShowVariables {
            scope: VariableScope::Global,
            filter: None
        }
    );
    assert!(matches!(
        parse("SHOW SESSION VARIABLES WHERE Variable_name = 'x'"),
        Statement::ShowVariables {
            scope: VariableScope::Session,
            filter: Some(ShowFilter::Where(_))
        }
    ));
    assert_eq!(
        parse("SHOW GLOBAL STATUS"),
        Statement::ShowStatus { filter: None }
    );
    assert_eq!(
        parse("SHOW PROCESSLIST"),
        Statement::ShowProcesslist { full: false }
    );
    assert_eq!(
        parse("SHOW FULL PROCESSLIST"),
        Statement::ShowProcesslist { full: true }
    );
    assert_eq!(
        parse("SHOW PARTITIONS FROM db.t"),
        Statement::ShowPartitions {
            table: name(Some("db"), "t")
        }
    );
    assert_eq!(
        parse("SHOW TABLET FROM t"),
        Statement::ShowTablets {
            table: name(None, "t")
        }
    );
    assert_eq!(
        parse("SHOW TABLETS FROM t"),
        Statement::ShowTablets {
            table: name(None, "t")
        }
    );
    assert_eq!(parse("SHOW BACKENDS"), Statement::ShowBackends);
    assert_eq!(parse("SHOW FRONTENDS"), Statement::ShowFrontends);
    assert_eq!(parse("SHOW DATA"), Statement::ShowData { table: None });
    assert_eq!(
        parse("SHOW DATA FROM db.t"),
        Statement::ShowData {
            table: Some(name(Some("db"), "t"))
        }
    );
    let fixed = |sql: &str| match parse(sql) {
        Statement::ShowFixed { what, .. } => what,
        other => panic!("{sql} is not a fixed SHOW: {other:?}"),
    };
    assert_eq!(fixed("SHOW ENGINES"), "engines");
    assert_eq!(fixed("SHOW CHARSET"), "charset");
    assert_eq!(fixed("SHOW CHARACTER SET LIKE 'utf8%'"), "charset");
    assert_eq!(fixed("SHOW COLLATION"), "collation");
    assert_eq!(fixed("SHOW WARNINGS LIMIT 10"), "warnings");
    assert_eq!(fixed("SHOW ERRORS"), "errors");
    assert_eq!(fixed("SHOW PLUGINS"), "plugins");
    assert_eq!(fixed("SHOW TABLE STATUS FROM db LIKE 't'"), "table status");
    assert_eq!(fixed("SHOW INDEX FROM t FROM db"), "index");
    assert_eq!(
        parse("SHOW COLLATION WHERE Charset = 'utf8mb4'"),
        Statement::ShowFixed {
            what: "collation".into(),
            filter: Some(ShowFilter::Where(parse_where("Charset = 'utf8mb4'")))
        }
    );
    assert_eq!(parse("SHOW GRANTS"), Statement::ShowGrants { user: None });
    assert_eq!(
        parse("SHOW GRANTS FOR 'u'@'h'"),
        Statement::ShowGrants {
            user: Some(user("u", "h"))
        }
    );
    assert_eq!(parse("SHOW USERS"), Statement::ShowUsers);
    assert_error(
        "SHOW STREAM LOAD",
        "SHOW STREAM LOAD is not supported yet",
    );
    assert_error(
        "SHOW FULL DATABASES",
        "Expected TABLES, COLUMNS, FIELDS or PROCESSLIST",
    );
}

fn parse_where(condition: &str) -> Expr {
    match parse(&format!("SHOW DATABASES WHERE {condition}")) {
        Statement::ShowDatabases {
            filter: Some(ShowFilter::Where(expr)),
        } => expr,
        other => panic!("unexpected {other:?}"),
    }
}

// ----- Users -----

#[test]
fn user_statements() {
    assert_eq!(
        parse(
            "CREATE USER IF NOT EXISTS 'grafana'@'%' IDENTIFIED BY 'secret' DEFAULT ROLE read_only"
        ),
        Statement::CreateUser {
            user: user("grafana", "%"),
            if_not_exists: true,
            password: Some("secret".into()),
            default_role: Some("read_only".into())
        }
    );
    assert_eq!(
        parse("CREATE USER jack IDENTIFIED WITH mysql_native_password BY '123'"),
        Statement::CreateUser {
            user: user("jack", "%"),
            if_not_exists: false,
            password: Some("123".into()),
            default_role: None
        }
    );
    assert_eq!(
        parse("CREATE USER \"u\"@\"10.0.0.%\""),
        Statement::CreateUser {
            user: user("u", "10.0.0.%"),
            if_not_exists: false,
            password: None,
            default_role: None
        }
    );
    assert_eq!(
        parse("ALTER USER `u`@`h` IDENTIFIED BY 'new'"),
        Statement::AlterUser {
            user: user("u", "h"),
            password: "new".into()
        }
    );
    assert_eq!(
        parse("DROP USER IF EXISTS u@localhost"),
        Statement::DropUser {
            user: user("u", "localhost"),
            if_exists: true
        }
    );
    assert_eq!(
        parse("DROP USER 'u'@localhost"),
        Statement::DropUser {
            user: user("u", "localhost"),
            if_exists: false
        }
    );
    assert_eq!(
        parse("DROP USER u@'%'"),
        Statement::DropUser {
            user: user("u", "%"),
            if_exists: false
        }
    );
    assert_error(
        "CREATE USER u IDENTIFIED WITH auth_ldap",
        "Unsupported authentication plugin 'auth_ldap'",
    );
}

#[test]
fn grant_and_revoke() {
    assert_eq!(
        parse("GRANT db_admin TO u"),
        Statement::Grant {
            target: GrantTarget::Role {
                role: "db_admin".into()
            },
            user: user("u", "%")
        }
    );
    assert_eq!(
        parse("GRANT select, INSERT ON db.* TO USER 'u'@'%'"),
        Statement::Grant {
            target: GrantTarget::Privileges {
                privileges: vec!["SELECT".into(), "INSERT".into()],
                database: "db".into(),
                table: "*".into()
            },
            user: user("u", "%")
        }
    );
    assert_eq!(
        parse("GRANT SELECT ON db.t TO u"),
        Statement::Grant {
            target: GrantTarget::Privileges {
                privileges: vec!["SELECT".into()],
                database: "db".into(),
                table: "t".into()
            },
            user: user("u", "%")
        }
    );
    assert_eq!(
        parse("GRANT ALL PRIVILEGES ON *.* TO u"),
        Statement::Grant {
            target: GrantTarget::Privileges {
                privileges: vec!["ALL".into()],
                database: "*".into(),
                table: "*".into()
            },
            user: user("u", "%")
        }
    );
    assert_eq!(
        parse("GRANT SELECT ON ALL TABLES IN DATABASE db TO USER u"),
        Statement::Grant {
            target: GrantTarget::Privileges {
                privileges: vec!["SELECT".into()],
                database: "db".into(),
                table: "*".into()
            },
            user: user("u", "%")
        }
    );
    assert_eq!(
        parse("REVOKE SELECT ON db.t FROM 'u'@'h'"),
        Statement::Revoke {
            target: GrantTarget::Privileges {
                privileges: vec!["SELECT".into()],
                database: "db".into(),
                table: "t".into()
            },
            user: user("u", "h")
        }
    );
    assert_eq!(
        parse("REVOKE read_only FROM u"),
        Statement::Revoke {
            target: GrantTarget::Role {
                role: "read_only".into()
            },
            user: user("u", "%")
        }
    );
    assert_error("GRANT SELECT ON t TO u", "Name the database of 't'");
}

// ----- Queries and statement splitting -----

#[test]
fn queries_go_to_sqlparser() {
    for sql in [
        "SELECT 1",
        "select @@version_comment limit 1",
        "SELECT DATABASE()",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "VALUES (1, 2)",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "/* ApplicationName=DBeaver 23.0 - Main */ SELECT * FROM t WHERE a = 1",
        "-- comment\nSELECT 1",
        "SELECT 'a;b' AS `x;y` -- trailing ; comment",
    ] {
        assert!(is_query(&parse(sql)), "{sql}");
    }
    // A leading comment does not hide a StarRocks statement.
    assert_eq!(
        parse("/* client */ SHOW DATABASES"),
        Statement::ShowDatabases { filter: None }
    );
    // MySQL executable comments are SQL.
    assert_eq!(
        parse("/*!40101 SET NAMES utf8 */"),
        Statement::Set(vec![SetAssignment::Names {
            charset: "utf8".into(),
            collation: None
        }])
    );
}

#[test]
fn statements_split_on_semicolons_outside_quotes_and_comments() {
    let statements = parse_statements(
        "SELECT ';' ; /* ; */ ;; USE db; -- only a comment ;\n SET NAMES utf8; SELECT \"a;b\";",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(statements.len(), 4);
    assert!(is_query(&statements[0]));
    assert_eq!(
        statements[1],
        Statement::Use {
            database: "db".into()
        }
    );
    assert!(matches!(statements[2], Statement::Set(_)));
    assert!(is_query(&statements[3]));
    assert_eq!(
        parse_statements("  -- nothing\n ; ").map(|list| list.len()),
        Ok(0)
    );
    assert_eq!(parse_statements("").map(|list| list.len()), Ok(0));
}

// ----- Errors -----

#[test]
fn empty_and_multiple_statements() {
    assert_eq!(parse_error("").message, "Query was empty");
    assert_eq!(parse_error(" ; -- x").message, "Query was empty");
    assert_error("SELECT 1; SELECT 2", "Expected a single statement");
    assert!(matches!(parse("SELECT 1;"), Statement::Query(_)));
}

#[test]
fn syntax_errors_say_what_and_where() {
    let error = parse_error("SELEKT 1");
    assert!(
        error
            .message
            .starts_with("You have an error in your SQL syntax"),
        "{error}"
    );
    assert!(error.message.contains("near 'SELEKT 1'"), "{error}");
    assert_eq!((error.line, error.column), (Some(1), Some(1)));

    let error = parse_error("SELECT 'abc");
    assert!(
        error.message.contains("Unterminated string literal"),
        "{error}"
    );
    assert_eq!(error.line, Some(1));

    let error = parse_error("CREATE TABLE t (a INT,\n b INT");
    assert!(
        error
            .message
            .contains("Expected ')', found the end of the statement"),
        "{error}"
    );

    let error = parse_error("SHOW TABLES FROM");
    assert!(
        error
            .message
            .contains("Expected a database name, found the end of the statement"),
        "{error}"
    );

    let error = parse_error("DROP TABLE t extra");
    assert!(
        error
            .message
            .contains("Expected the end of the statement, found 'extra'"),
        "{error}"
    );
    assert!(error.message.ends_with("near 'extra'"), "{error}");
    assert_eq!(error.column, Some(14));
    assert_eq!(
        error.to_string(),
        "You have an error in your SQL syntax: Expected the end of the statement, found 'extra' \
         near 'extra' at line 1, column 14"
    );

    let error = parse_error("SELECT * FROM");
    assert!(
        error.message.contains("Expected: identifier, found: EOF"),
        "{error}"
    );

    let error = parse_error("hello world");
    assert!(error.message.contains("an SQL statement"), "{error}");
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "(",
        ")",
        "'",
        "\"",
        "`",
        "/*",
        "@",
        "@@",
        "SET",
        "SET @",
        "SET @@",
        "SET @@global.",
        "CREATE",
        "CREATE TABLE",
        "CREATE TABLE t (",
        "CREATE TABLE t (a",
        "CREATE TABLE t (a INT",
        "CREATE TABLE t (a DECIMAL(",
        "CREATE TABLE t (a INT) PARTITION BY RANGE(a) (PARTITION",
        "CREATE TABLE t (a INT) PARTITION BY RANGE(a) (PARTITION p VALUES [(",
        "CREATE TABLE t (a INT) PARTITION BY date_trunc(",
        "CREATE TABLE t (a INT) PROPERTIES (",
        "CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 99999999999999999999",
        "INSERT",
        "INSERT INTO",
        "INSERT INTO t WITH",
        "INSERT INTO t (",
        "DELETE FROM",
        "SHOW",
        "SHOW FULL",
        "SHOW CREATE",
        "DESC",
        "EXPLAIN ANALYZE",
        "GRANT",
        "GRANT SELECT ON",
        "GRANT SELECT ON *.",
        "REVOKE x FROM",
        "KILL",
        "KILL -1",
        "USE",
        "USE a.b.c",
        "CREATE USER",
        "CREATE USER 'u'@",
        "ALTER USER u",
        "ALTER",
        "ALTER TABLE t ADD",
        "SET PASSWORD FOR",
        "SET SESSION TRANSACTION",
        "START",
        "COMMIT AND",
        "DROP",
        "TRUNCATE",
        "/*!40101 */",
        "é",
        "\u{0}",
        "SELECT 1 /*",
        "CREATE TABLE t (a INT) ORDER BY",
    ];
    for input in inputs {
        if let Err(error) = parse_statements(input) {
            assert!(!error.message.is_empty(), "{input}");
        }
    }
}
