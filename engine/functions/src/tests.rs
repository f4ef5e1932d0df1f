//! End-to-end tests: parse with the MySQL dialect, rewrite, plan and run against an
//! in-memory table with a StarRocks DATETIME column.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::{QueryError, SessionSettings, execute_sql, register_functions};

const DATETIME: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// `events`: four rows around 1700000000 (2023-11-14 22:13:20 UTC), with NULLs.
fn context() -> SessionContext {
    let context = SessionContext::new();
    register_functions(&context);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ts", DATETIME, true),
        Field::new("d", DataType::Date32, true),
        Field::new("value", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let second = 1_000_000_i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_700_000_000 * second),
            Some(1_700_001_800 * second),
            Some(1_700_003_600 * second),
            None,
        ])),
        Arc::new(Date32Array::from(vec![
            Some(19_675),
            Some(19_676),
            None,
            Some(0),
        ])),
        Arc::new(Int64Array::from(vec![Some(10), Some(0), None, Some(7)])),
        Arc::new(StringArray::from(vec![
            Some("alpha"),
            None,
            Some("gamma"),
            Some("delta"),
        ])),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).expect("valid batch");
    let table = MemTable::try_new(schema, vec![vec![batch]]).expect("valid table");
    context
        .register_table("events", Arc::new(table))
        .expect("table registers");
    context
}

fn settings(time_zone: &str) -> SessionSettings {
    SessionSettings {
        time_zone: time_zone.to_string(),
        current_database: Some("analytics".to_string()),
        current_user: "grafana".to_string(),
        connection_id: 42,
    }
}

/// Runs `sql` in `time_zone` and returns every row as display strings.
async fn rows_in(time_zone: &str, sql: &str) -> Vec<Vec<String>> {
    let batches = match execute_sql(&context(), sql, &settings(time_zone)).await {
        Ok(batches) => batches,
        Err(error) => panic!("{sql}: {error}"),
    };
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &batches {
        let formatters: Vec<ArrayFormatter<'_>> = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options).expect("formatter"))
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|formatter| formatter.value(row).to_string())
                    .collect(),
            );
        }
    }
    rows
}

async fn rows(sql: &str) -> Vec<Vec<String>> {
    rows_in("+00:00", sql).await
}

/// The single value of a one-row, one-column query.
async fn value_in(time_zone: &str, sql: &str) -> String {
    let rows = rows_in(time_zone, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    assert_eq!(rows[0].len(), 1, "{sql}: {rows:?}");
    rows[0][0].clone()
}

async fn value(sql: &str) -> String {
    value_in("+00:00", sql).await
}

/// The type of the first result column.
async fn result_type(sql: &str) -> DataType {
    let batches = execute_sql(&context(), sql, &settings("+00:00"))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    batches[0].schema().field(0).data_type().clone()
}

async fn error(sql: &str) -> QueryError {
    match execute_sql(&context(), sql, &settings("+00:00")).await {
        Ok(batches) => panic!("{sql} should fail, returned {batches:?}"),
        Err(error) => error,
    }
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| row.iter().map(|cell| (*cell).to_string()).collect())
        .collect()
}

#[tokio::test]
async fn grafana_macros_in_utc() {
    assert_eq!(
        rows(
            "SELECT UNIX_TIMESTAMP(ts) DIV 60 * 60 AS \"time\", value FROM events \
             WHERE ts BETWEEN FROM_UNIXTIME(1700000000) AND FROM_UNIXTIME(1700003600) ORDER BY 1"
        )
        .await,
        strings(&[
            &["1699999980", "10"],
            &["1700001780", "0"],
            &["1700003580", "NULL"],
        ])
    );
    // $__timeGroupAlias with a GROUP BY, $__unixEpochFilter, $__timeFrom().
    assert_eq!(
        rows(
            "SELECT UNIX_TIMESTAMP(ts) DIV 3600 * 3600 AS \"time\", count(*) AS `count` FROM events \
             WHERE UNIX_TIMESTAMP(ts) >= 1700000000 AND UNIX_TIMESTAMP(ts) <= 1700003600 \
             AND ts >= FROM_UNIXTIME(1700000000) GROUP BY 1 ORDER BY 1"
        )
        .await,
        strings(&[&["1699999200", "2"], &["1700002800", "1"]])
    );
}

#[tokio::test]
async fn grafana_macros_in_session_time_zones() {
    // The stored wall clocks are interpreted in the session zone.
    for zone in ["+08:00", "Asia/Shanghai"] {
        assert_eq!(
            rows_in(
                zone,
                "SELECT UNIX_TIMESTAMP(ts) DIV 60 * 60 AS \"time\" FROM events \
                 WHERE ts BETWEEN FROM_UNIXTIME(1699971200) AND FROM_UNIXTIME(1699974800) ORDER BY 1"
            )
            .await,
            strings(&[&["1699971180"], &["1699972980"], &["1699974780"]]),
            "{zone}"
        );
        assert_eq!(
            value_in(zone, "SELECT FROM_UNIXTIME(1700000000)").await,
            "2023-11-15T06:13:20"
        );
        assert_eq!(
            value_in(zone, "SELECT UNIX_TIMESTAMP('2023-11-15 06:13:20')").await,
            "1700000000"
        );
    }
    assert_eq!(
        value_in("SYSTEM", "SELECT FROM_UNIXTIME(1700000000)").await,
        "2023-11-14T22:13:20"
    );
    assert_eq!(
        value_in(
            "-05:00",
            "SELECT FROM_UNIXTIME(1700000000, '%Y-%m-%d %H:%i:%s')"
        )
        .await,
        "2023-11-14 17:13:20"
    );
    // America/New_York observes DST: July is -04:00.
    assert_eq!(
        value_in(
            "America/New_York",
            "SELECT UNIX_TIMESTAMP('2024-07-01 00:00:00')"
        )
        .await,
        "1719806400"
    );
}

#[tokio::test]
async fn unix_timestamp_and_from_unixtime_edges() {
    assert_eq!(
        value("SELECT UNIX_TIMESTAMP(d) FROM events WHERE id = 1").await,
        "1699920000"
    );
    assert_eq!(value("SELECT UNIX_TIMESTAMP('not a date')").await, "NULL");
    assert_eq!(
        value("SELECT UNIX_TIMESTAMP(ts) FROM events WHERE id = 4").await,
        "NULL"
    );
    assert_eq!(value("SELECT UNIX_TIMESTAMP('1960-01-01')").await, "0");
    assert_eq!(value("SELECT FROM_UNIXTIME(-1)").await, "NULL");
    assert_eq!(value("SELECT FROM_UNIXTIME(NULL)").await, "NULL");
    assert_eq!(
        value("SELECT FROM_UNIXTIME(1700000000.5)").await,
        "2023-11-14T22:13:20.500"
    );
    assert_eq!(
        result_type("SELECT UNIX_TIMESTAMP()").await,
        DataType::Int64
    );
    assert_eq!(result_type("SELECT FROM_UNIXTIME(1)").await, DATETIME);
    assert_eq!(
        result_type("SELECT FROM_UNIXTIME(1, '%Y')").await,
        DataType::Utf8
    );
}

#[tokio::test]
async fn clock_functions_are_session_wall_clocks() {
    for sql in [
        "SELECT NOW()",
        "SELECT CURRENT_TIMESTAMP()",
        "SELECT CURRENT_TIMESTAMP",
        "SELECT LOCALTIME",
        "SELECT LOCALTIMESTAMP()",
        "SELECT SYSDATE()",
        "SELECT UTC_TIMESTAMP()",
        "SELECT UTC_TIMESTAMP",
    ] {
        assert_eq!(result_type(sql).await, DATETIME, "{sql}");
    }
    for sql in [
        "SELECT CURDATE()",
        "SELECT CURRENT_DATE",
        "SELECT CURRENT_DATE()",
        "SELECT UTC_DATE()",
    ] {
        assert_eq!(result_type(sql).await, DataType::Date32, "{sql}");
    }
    assert_eq!(
        value_in(
            "+08:00",
            "SELECT TIMESTAMPDIFF(HOUR, UTC_TIMESTAMP(), NOW())"
        )
        .await,
        "8"
    );
    assert_eq!(
        value_in(
            "Asia/Shanghai",
            "SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        .await,
        "480"
    );
    assert_eq!(
        value_in("+08:00", "SELECT NOW() = CURRENT_TIMESTAMP").await,
        "true"
    );
    assert_eq!(
        value_in("+08:00", "SELECT DATE(NOW()) = CURDATE()").await,
        "true"
    );
    // Round trip through the session zone gives the real epoch.
    let epoch = chrono::Utc::now().timestamp();
    for zone in ["+08:00", "Asia/Shanghai", "+00:00"] {
        let seconds: i64 = value_in(zone, "SELECT UNIX_TIMESTAMP(NOW())")
            .await
            .parse()
            .expect("a number");
        assert!((seconds - epoch).abs() < 10, "{zone}: {seconds} vs {epoch}");
        let seconds: i64 = value_in(zone, "SELECT UNIX_TIMESTAMP()")
            .await
            .parse()
            .expect("a number");
        assert!((seconds - epoch).abs() < 10, "{zone}: {seconds} vs {epoch}");
    }
    // NOW() compares with a DATETIME column (DataFusion's now() is tz-aware and would not).
    assert_eq!(
        value("SELECT count(*) FROM events WHERE ts < NOW()").await,
        "3"
    );
    assert_eq!(
        value("SELECT count(*) FROM events WHERE ts > NOW() - INTERVAL 100 YEAR").await,
        "3"
    );
}

#[tokio::test]
async fn integer_division_modulo_and_division() {
    assert_eq!(
        rows("SELECT 7 DIV 2, -7 DIV 2, 7.5 DIV 2, 7 DIV 0, MOD(7, 3), -7 % 3, 7 % 0, MOD(7.5, 2), 5 / 2, 1 / 0").await,
        strings(&[&["3", "-3", "3", "NULL", "1", "-1", "NULL", "1.5", "2.5", "NULL"]])
    );
    assert_eq!(
        rows("SELECT id, 10 DIV value, MOD(10, value), value / 4 FROM events ORDER BY id").await,
        strings(&[
            &["1", "1", "0", "2.5"],
            &["2", "NULL", "NULL", "0.0"],
            &["3", "NULL", "NULL", "NULL"],
            &["4", "1", "3", "1.75"],
        ])
    );
    assert_eq!(
        result_type("SELECT value DIV 2 FROM events").await,
        DataType::Int64
    );
    // MySQL precedence: DIV binds like `*`, left to right.
    assert_eq!(
        rows("SELECT 100 DIV 7 * 7, 1 - 9 DIV 2 - 3, 9 DIV 2 = 4 AND 1 = 1, 9 DIV (2 * 2), 9 DIV 2 IS NULL, 2 * 9 DIV 4").await,
        strings(&[&["98", "-6", "true", "2", "false", "4"]])
    );
}

#[tokio::test]
async fn control_flow() {
    assert_eq!(
        rows("SELECT id, IF(value > 5, 'big', 'small'), IF(value, 1, 2.5), IFNULL(name, '-'), NULLIF(value, 0), COALESCE(value, -1) FROM events ORDER BY id").await,
        strings(&[
            &["1", "big", "1.0", "alpha", "10", "10"],
            &["2", "small", "2.5", "-", "NULL", "0"],
            &["3", "small", "2.5", "gamma", "NULL", "-1"],
            &["4", "big", "1.0", "delta", "7", "7"],
        ])
    );
    assert!(matches!(
        error("SELECT IF(1, 2)").await,
        QueryError::Rewrite(crate::RewriteError::WrongArgumentCount(_))
    ));
}

#[tokio::test]
async fn session_literals() {
    assert_eq!(
        rows("SELECT DATABASE(), SCHEMA(), USER(), CURRENT_USER(), CURRENT_USER, CONNECTION_ID(), VERSION()").await,
        strings(&[&["analytics", "analytics", "grafana@%", "grafana@%", "grafana@%", "42", "8.0.33-cairn"]])
    );
    let mut without_database = settings("+00:00");
    without_database.current_database = None;
    let batches = execute_sql(&context(), "SELECT DATABASE()", &without_database)
        .await
        .expect("runs");
    assert_eq!(batches[0].column(0).logical_null_count(), 1);
}

#[tokio::test]
async fn date_format_codes() {
    assert_eq!(
        value("SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s') FROM events WHERE id = 1").await,
        "2023-11-14 22:13:20"
    );
    assert_eq!(
        value("SELECT DATE_FORMAT(d, '%W %M %D %Y, %a %b %e %j %p') FROM events WHERE id = 1")
            .await,
        "Tuesday November 14th 2023, Tue Nov 14 318 AM"
    );
    assert_eq!(
        value("SELECT DATE_FORMAT('2024-01-01 13:05:09.5', '%c/%e/%y %h:%i:%S %f %r %T %U %u %v %x %%')").await,
        "1/1/24 01:05:09 500000 01:05:09 PM 13:05:09 00 01 01 2024 %"
    );
    // Unknown codes print the character; bad input gives NULL, never a panic.
    assert_eq!(
        value("SELECT DATE_FORMAT('2024-01-01', '%Q %')").await,
        "Q %"
    );
    assert_eq!(value("SELECT DATE_FORMAT('garbage', '%Y')").await, "NULL");
    assert_eq!(
        value("SELECT DATE_FORMAT(ts, NULL) FROM events WHERE id = 1").await,
        "NULL"
    );
    assert_eq!(
        value("SELECT DATE_FORMAT(ts, '%Y') FROM events WHERE id = 4").await,
        "NULL"
    );
}

#[tokio::test]
async fn str_to_date_parses_or_returns_null() {
    assert_eq!(
        value("SELECT STR_TO_DATE('2024-03-05 14:07:09', '%Y-%m-%d %H:%i:%s')").await,
        "2024-03-05T14:07:09"
    );
    assert_eq!(
        value("SELECT STR_TO_DATE('05/03/2024', '%d/%m/%Y')").await,
        "2024-03-05T00:00:00"
    );
    assert_eq!(
        value("SELECT STR_TO_DATE('Mar 5 2024 2:07 PM', '%b %e %Y %l:%i %p')").await,
        "2024-03-05T14:07:00"
    );
    assert_eq!(
        value("SELECT STR_TO_DATE('nonsense', '%Y-%m-%d')").await,
        "NULL"
    );
    assert_eq!(
        value("SELECT STR_TO_DATE('2024-02-30', '%Y-%m-%d')").await,
        "NULL"
    );
    assert_eq!(value("SELECT STR_TO_DATE(NULL, '%Y')").await, "NULL");
    assert_eq!(
        value("SELECT count(*) FROM events WHERE ts > STR_TO_DATE('2023-11-14 22:30', '%Y-%m-%d %H:%i')").await,
        "2"
    );
}

#[tokio::test]
async fn casts() {
    assert_eq!(
        rows("SELECT CAST('42' AS SIGNED), CAST(7 AS SIGNED INTEGER), CAST(3 AS UNSIGNED), CONVERT('9', SIGNED), CAST(value AS CHAR), CAST(1.5 AS VARCHAR(10)), CAST('1.239' AS DECIMAL(10,2)), CONVERT('x' USING utf8mb4) FROM events WHERE id = 1").await,
        strings(&[&["42", "7", "3", "9", "10", "1.5", "1.24", "x"]])
    );
    assert_eq!(
        result_type("SELECT CAST('42' AS SIGNED)").await,
        DataType::Int64
    );
    assert_eq!(
        result_type("SELECT CAST('2024-01-01 10:00:00' AS DATETIME)").await,
        DATETIME
    );
    assert_eq!(
        result_type("SELECT CONVERT('2024-01-01 10:00:00', DATETIME)").await,
        DATETIME
    );
    assert_eq!(
        value("SELECT count(*) FROM events WHERE ts > CAST('2023-11-14 22:30:00' AS DATETIME)")
            .await,
        "2"
    );
    assert_eq!(
        value("SELECT CAST(ts AS DATE) FROM events WHERE id = 1").await,
        "2023-11-14"
    );
}

#[tokio::test]
async fn truncation_and_slices() {
    assert_eq!(
        result_type("SELECT date_trunc('day', ts) FROM events").await,
        DATETIME
    );
    assert_eq!(
        value("SELECT date_trunc('hour', ts) FROM events WHERE id = 1").await,
        "2023-11-14T22:00:00"
    );
    assert_eq!(
        rows("SELECT time_slice(ts, INTERVAL 5 MINUTE), time_slice(ts, INTERVAL 5 MINUTE, 'ceil'), time_slice(ts, INTERVAL 1 WEEK), time_slice(ts, INTERVAL 1 MONTH), time_slice(ts, INTERVAL 1 QUARTER), time_slice(ts, INTERVAL 2 YEAR), time_slice(ts, INTERVAL 1 DAY, FLOOR) FROM events WHERE id = 1").await,
        strings(&[&[
            "2023-11-14T22:10:00",
            "2023-11-14T22:15:00",
            "2023-11-13T00:00:00",
            "2023-11-01T00:00:00",
            "2023-10-01T00:00:00",
            "2023-01-01T00:00:00",
            "2023-11-14T00:00:00",
        ]])
    );
    assert_eq!(
        value("SELECT time_slice(ts, INTERVAL 1 HOUR) FROM events WHERE id = 4").await,
        "NULL"
    );
    assert!(matches!(
        error("SELECT time_slice(ts, INTERVAL 1 HOUR, 'middle') FROM events").await,
        QueryError::DataFusion(_)
    ));
    assert!(matches!(
        error("SELECT time_slice(ts, INTERVAL 0 MINUTE) FROM events").await,
        QueryError::DataFusion(_)
    ));
}

#[tokio::test]
async fn interval_arithmetic() {
    assert_eq!(
        rows("SELECT date_add(ts, INTERVAL 5 MINUTE), date_sub(ts, INTERVAL 1 HOUR), adddate(d, 3), subdate(ts, INTERVAL 1 MONTH), ts + INTERVAL 5 MINUTE, ts - INTERVAL 1 HOUR FROM events WHERE id = 1").await,
        strings(&[&[
            "2023-11-14T22:18:20",
            "2023-11-14T21:13:20",
            "2023-11-17T00:00:00",
            "2023-10-14T22:13:20",
            "2023-11-14T22:18:20",
            "2023-11-14T21:13:20",
        ]])
    );
    assert_eq!(
        result_type("SELECT ts + INTERVAL 5 MINUTE FROM events").await,
        DATETIME
    );
    assert_eq!(
        value("SELECT date_add('2024-01-31', INTERVAL 1 MONTH)").await,
        "2024-02-29T00:00:00"
    );
    assert_eq!(
        value("SELECT TIMESTAMPADD(HOUR, 2, '2024-01-01 00:00:00')").await,
        "2024-01-01T02:00:00"
    );
}

#[tokio::test]
async fn date_parts() {
    assert_eq!(
        rows("SELECT DATE(ts), TO_DATE(ts), YEAR(ts), MONTH(ts), DAY(ts), DAYOFMONTH(ts), HOUR(ts), MINUTE(ts), SECOND(ts), DAYOFWEEK(ts), DAYOFYEAR(ts), WEEKOFYEAR(ts), QUARTER(ts), WEEKDAY(ts), WEEK(ts), DAYNAME(ts), MONTHNAME(d) FROM events WHERE id = 1").await,
        strings(&[&[
            "2023-11-14", "2023-11-14", "2023", "11", "14", "14", "22", "13", "20", "3", "318", "46", "4",
            "1", "46", "Tuesday", "November",
        ]])
    );
    assert_eq!(
        value("SELECT YEAR(ts) FROM events WHERE id = 4").await,
        "NULL"
    );
    assert_eq!(value("SELECT MONTH('2024-02-10')").await, "2");
}

#[tokio::test]
async fn date_differences_and_conversions() {
    assert_eq!(
        rows("SELECT DATEDIFF('2024-03-01', '2024-02-01'), DATEDIFF('2024-03-01 23:59:59', '2024-03-02 00:00:01'), TIMESTAMPDIFF(MINUTE, '2024-01-01 00:00:00', '2024-01-01 01:30:00'), TIMESTAMPDIFF(MONTH, '2024-01-31', '2024-02-29'), TIMESTAMPDIFF(MONTH, '2024-01-31', '2024-03-31'), TIMESTAMPDIFF(YEAR, '2000-02-29', '2024-02-28'), TO_DAYS('2007-10-07'), LAST_DAY('2024-02-10')").await,
        strings(&[&["29", "-1", "90", "0", "2", "23", "733321", "2024-02-29"]])
    );
    assert_eq!(
        rows("SELECT CONVERT_TZ('2024-01-01 00:00:00', '+00:00', 'Asia/Shanghai'), CONVERT_TZ('2024-01-01 00:00:00', 'Asia/Shanghai', '-05:00'), CONVERT_TZ('2024-01-01 00:00:00', 'bad', '+00:00')").await,
        strings(&[&["2024-01-01T08:00:00", "2023-12-31T11:00:00", "NULL"]])
    );
    assert_eq!(
        value("SELECT CONVERT_TZ(ts, '+00:00', '+08:00') FROM events WHERE id = 1").await,
        "2023-11-15T06:13:20"
    );
}

#[tokio::test]
async fn string_functions() {
    assert_eq!(
        rows("SELECT CONCAT_WS('-', 'a', NULL, 'b'), LOCATE('b', 'abcb'), LOCATE('b', 'abcb', 3), LOCATE('z', 'abc'), INSTR('abc', 'c'), SUBSTRING_INDEX('a.b.c', '.', 2), LCASE('AbC'), UCASE('AbC'), CHAR_LENGTH('héllo'), LENGTH('héllo'), LEFT('hello', 2), RIGHT('hello', 2), MID('hello', 2, 3)").await,
        strings(&[&["a-b", "2", "4", "0", "3", "a.b", "abc", "ABC", "5", "6", "he", "lo", "ell"]])
    );
    assert_eq!(
        rows("SELECT GROUP_CONCAT(name ORDER BY id SEPARATOR '|'), GROUP_CONCAT(id ORDER BY id), GROUP_CONCAT(DISTINCT value), GROUP_CONCAT(id, name ORDER BY id) FROM events WHERE id IN (1, 3)").await,
        strings(&[&["alpha|gamma", "1,3", "10", "1alpha,3gamma"]])
    );
    assert_eq!(
        value("SELECT GROUP_CONCAT(name) FROM events WHERE id = 2").await,
        "NULL"
    );
}

#[tokio::test]
async fn mysql_limit_offset() {
    assert_eq!(
        rows("SELECT id FROM events ORDER BY id LIMIT 1, 2").await,
        strings(&[&["2"], &["3"]])
    );
}

#[tokio::test]
async fn bad_time_zone_is_an_error() {
    let result = execute_sql(&context(), "SELECT NOW()", &settings("Mars/Olympus")).await;
    assert!(matches!(
        result,
        Err(QueryError::Rewrite(crate::RewriteError::UnknownTimeZone(_)))
    ));
}
