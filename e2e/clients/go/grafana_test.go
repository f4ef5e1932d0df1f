// Package grafana drives Cairn with Go's go-sql-driver/mysql the way Grafana's MySQL data
// source does: its DSN, ping as health check, the SQL its macros expand to, and the
// information_schema queries of its query builder.
//
// The server address comes from CAIRN_MYSQL_ADDR (host:port); e2e/clients/test_go_driver.py
// sets it when it runs `go test` against its server. Without it the tests fail: they never
// skip.
package grafana

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Grafana's data source DSN (pkg/tsdb/mysql), with the time zone option set to +00:00.
const grafanaParameters = "collation=utf8mb4_unicode_ci&parseTime=true&loc=UTC" +
	"&allowNativePasswords=true&clientFoundRows=true&time_zone=%27%2B00%3A00%27"

// The dashboard's time range: $__from and $__to in seconds.
const (
	rangeFrom int64 = 1700000000
	rangeTo   int64 = 1700003600
)

func serverAddress(t *testing.T) string {
	t.Helper()
	address := os.Getenv("CAIRN_MYSQL_ADDR")
	if address == "" {
		t.Fatal("CAIRN_MYSQL_ADDR is not set; run through e2e/run-all.sh or `pytest e2e/clients -k go`")
	}
	return address
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open %q: %v", dsn, err)
	}
	db.SetConnMaxLifetime(time.Minute)
	t.Cleanup(func() { db.Close() })
	return db
}

// grafanaDatabase creates a fresh database and returns a pool opened with Grafana's DSN on it.
func grafanaDatabase(t *testing.T) (*sql.DB, string) {
	t.Helper()
	address := serverAddress(t)
	name := fmt.Sprintf("grafana_go_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	admin := open(t, fmt.Sprintf("root:@tcp(%s)/", address))
	mustExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return open(t, fmt.Sprintf("root:@tcp(%s)/%s?%s", address, name, grafanaParameters)), name
}

func mustExec(t *testing.T, db *sql.DB, statement string) sql.Result {
	t.Helper()
	result, err := db.Exec(statement)
	if err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
	return result
}

// reading is one generated sensor row: every 30 s from 10 minutes before the range to
// 10 minutes after it.
type reading struct {
	epoch       int64
	sensorID    int64
	temperature float64
}

func readings() []reading {
	var rows []reading
	for epoch := rangeFrom - 600; epoch <= rangeTo+600; epoch += 30 {
		index := (epoch - rangeFrom) / 30
		rows = append(rows, reading{
			epoch:       epoch,
			sensorID:    ((index % 3) + 3) % 3,
			temperature: 20 + float64(((index%10)+10)%10)/4,
		})
	}
	return rows
}

func createSensorTable(t *testing.T, db *sql.DB) []reading {
	t.Helper()
	mustExec(t, db, `CREATE TABLE sensor_readings (
		ts DATETIME NOT NULL,
		sensor_id INT NOT NULL,
		temperature DOUBLE NULL,
		epoch BIGINT NOT NULL
	) DUPLICATE KEY(ts)
	DISTRIBUTED BY HASH(sensor_id) BUCKETS 2
	PROPERTIES ("replication_num" = "1")`)
	rows := readings()
	values := make([]string, 0, len(rows))
	for _, row := range rows {
		ts := time.Unix(row.epoch, 0).UTC().Format("2006-01-02 15:04:05")
		values = append(values, fmt.Sprintf("('%s', %d, %g, %d)", ts, row.sensorID, row.temperature, row.epoch))
	}
	result := mustExec(t, db, "INSERT INTO sensor_readings (ts, sensor_id, temperature, epoch) VALUES "+strings.Join(values, ", "))
	affected, err := result.RowsAffected()
	if err != nil {
		t.Fatalf("rows affected: %v", err)
	}
	if affected != int64(len(rows)) {
		t.Fatalf("INSERT reported %d rows affected, want %d", affected, len(rows))
	}
	return rows
}

func TestPingAndSessionFromDSN(t *testing.T) {
	db, name := grafanaDatabase(t)
	if err := db.Ping(); err != nil {
		t.Fatalf("ping (Grafana's health check): %v", err)
	}
	var timeZone, database string
	if err := db.QueryRow("SELECT @@time_zone, DATABASE()").Scan(&timeZone, &database); err != nil {
		t.Fatalf("SELECT @@time_zone, DATABASE(): %v", err)
	}
	if timeZone != "+00:00" {
		t.Errorf("@@time_zone = %q, want +00:00 (set by the DSN's time_zone parameter)", timeZone)
	}
	if database != name {
		t.Errorf("DATABASE() = %q, want %q", database, name)
	}
	var one int64
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestTimeFilterMacroReturnsRowsInRangeAsUTCTimes(t *testing.T) {
	db, _ := grafanaDatabase(t)
	rows := createSensorTable(t, db)

	// $__timeFilter(ts)
	query := fmt.Sprintf(`SELECT ts, temperature FROM sensor_readings
		WHERE ts BETWEEN FROM_UNIXTIME(%d) AND FROM_UNIXTIME(%d) ORDER BY ts`, rangeFrom, rangeTo)
	result, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer result.Close()

	var want []reading
	for _, row := range rows {
		if row.epoch >= rangeFrom && row.epoch <= rangeTo {
			want = append(want, row)
		}
	}
	index := 0
	for result.Next() {
		var ts time.Time
		var temperature float64
		if err := result.Scan(&ts, &temperature); err != nil {
			t.Fatalf("scan row %d: %v", index, err)
		}
		if index >= len(want) {
			t.Fatalf("more rows than the %d expected; extra ts %v", len(want), ts)
		}
		wantTime := time.Unix(want[index].epoch, 0).UTC()
		if !ts.Equal(wantTime) || ts.Location() != time.UTC {
			t.Errorf("row %d: ts = %v (%v), want %v in UTC", index, ts, ts.Location(), wantTime)
		}
		if temperature != want[index].temperature {
			t.Errorf("row %d: temperature = %v, want %v", index, temperature, want[index].temperature)
		}
		index++
	}
	if err := result.Err(); err != nil {
		t.Fatalf("iterating rows: %v", err)
	}
	if index != len(want) {
		t.Fatalf("got %d rows, want %d", index, len(want))
	}
	if want[0].epoch != rangeFrom || want[len(want)-1].epoch != rangeTo {
		t.Fatalf("test data should include both range bounds")
	}
}

func TestTimeGroupMacroAveragesPerMinute(t *testing.T) {
	db, _ := grafanaDatabase(t)
	rows := createSensorTable(t, db)

	// $__timeGroupAlias(ts, 1m) with $__timeFilter(ts)
	query := fmt.Sprintf(`SELECT UNIX_TIMESTAMP(ts) DIV 60 * 60 AS "time", avg(temperature) AS value
		FROM sensor_readings
		WHERE ts BETWEEN FROM_UNIXTIME(%d) AND FROM_UNIXTIME(%d)
		GROUP BY 1 ORDER BY 1`, rangeFrom, rangeTo)

	sums := map[int64]float64{}
	counts := map[int64]float64{}
	var minutes []int64
	for _, row := range rows {
		if row.epoch < rangeFrom || row.epoch > rangeTo {
			continue
		}
		minute := row.epoch / 60 * 60
		if counts[minute] == 0 {
			minutes = append(minutes, minute)
		}
		sums[minute] += row.temperature
		counts[minute]++
	}

	result, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer result.Close()
	columns, err := result.Columns()
	if err != nil || len(columns) != 2 || columns[0] != "time" || columns[1] != "value" {
		t.Fatalf("columns = %v (%v), want [time value]", columns, err)
	}
	index := 0
	for result.Next() {
		var minute int64
		var average float64
		if err := result.Scan(&minute, &average); err != nil {
			t.Fatalf("scan row %d: %v", index, err)
		}
		if index >= len(minutes) {
			t.Fatalf("more groups than the %d expected; extra time %d", len(minutes), minute)
		}
		want := sums[minutes[index]] / counts[minutes[index]]
		if minute != minutes[index] || math.Abs(average-want) > 1e-9 {
			t.Errorf("group %d = (%d, %v), want (%d, %v)", index, minute, average, minutes[index], want)
		}
		index++
	}
	if err := result.Err(); err != nil {
		t.Fatalf("iterating rows: %v", err)
	}
	if index != len(minutes) {
		t.Fatalf("got %d groups, want %d", index, len(minutes))
	}
}

func TestUnixEpochMacros(t *testing.T) {
	db, _ := grafanaDatabase(t)
	rows := createSensorTable(t, db)

	// $__unixEpochFilter(epoch)
	var count int64
	filter := fmt.Sprintf("epoch >= %d AND epoch <= %d", rangeFrom, rangeTo)
	if err := db.QueryRow("SELECT count(*) FROM sensor_readings WHERE " + filter).Scan(&count); err != nil {
		t.Fatalf("unixEpochFilter count: %v", err)
	}
	wantCount := int64(0)
	perFiveMinutes := map[int64]int64{}
	var buckets []int64
	for _, row := range rows {
		if row.epoch >= rangeFrom && row.epoch <= rangeTo {
			wantCount++
			bucket := row.epoch / 300 * 300
			if perFiveMinutes[bucket] == 0 {
				buckets = append(buckets, bucket)
			}
			perFiveMinutes[bucket]++
		}
	}
	if count != wantCount {
		t.Fatalf("count with %s = %d, want %d", filter, count, wantCount)
	}

	// $__unixEpochGroupAlias(epoch, 5m) with $__unixEpochFilter(epoch)
	query := `SELECT floor(epoch/300)*300 AS "time", count(*) AS readings FROM sensor_readings
		WHERE ` + filter + ` GROUP BY 1 ORDER BY 1`
	result, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer result.Close()
	index := 0
	for result.Next() {
		var bucket float64
		var readings int64
		if err := result.Scan(&bucket, &readings); err != nil {
			t.Fatalf("scan row %d: %v", index, err)
		}
		if index >= len(buckets) {
			t.Fatalf("more groups than the %d expected", len(buckets))
		}
		if int64(bucket) != buckets[index] || readings != perFiveMinutes[buckets[index]] {
			t.Errorf("group %d = (%v, %d), want (%d, %d)", index, bucket, readings, buckets[index], perFiveMinutes[buckets[index]])
		}
		index++
	}
	if err := result.Err(); err != nil {
		t.Fatalf("iterating rows: %v", err)
	}
	if index != len(buckets) {
		t.Fatalf("got %d groups, want %d", index, len(buckets))
	}
}

func TestQueryBuilderReadsInformationSchema(t *testing.T) {
	db, name := grafanaDatabase(t)
	createSensorTable(t, db)

	var table string
	err := db.QueryRow("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name").Scan(&table)
	if err != nil || table != "sensor_readings" {
		t.Fatalf("information_schema.tables for %s = %q, %v; want sensor_readings", name, table, err)
	}

	result, err := db.Query(`SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = '` + name + `' AND table_name = 'sensor_readings' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatalf("information_schema.columns: %v", err)
	}
	defer result.Close()
	var got []string
	for result.Next() {
		var column, dataType string
		if err := result.Scan(&column, &dataType); err != nil {
			t.Fatalf("scan: %v", err)
		}
		got = append(got, column+" "+strings.ToLower(dataType))
	}
	if err := result.Err(); err != nil {
		t.Fatalf("iterating rows: %v", err)
	}
	want := "ts datetime,sensor_id int,temperature double,epoch bigint"
	if strings.Join(got, ",") != want {
		t.Fatalf("columns = %q, want %q", strings.Join(got, ","), want)
	}
}

func TestErrorsCarryMySQLCodesAndPoolRecovers(t *testing.T) {
	db, _ := grafanaDatabase(t)
	_, err := db.Exec("SELEC 1")
	var mysqlError *mysql.MySQLError
	if err == nil || !asMySQLError(err, &mysqlError) || mysqlError.Number != 1064 {
		t.Fatalf("syntax error = %v, want MySQL error 1064", err)
	}
	_, err = db.Query("SELECT * FROM no_such_table")
	if err == nil || !asMySQLError(err, &mysqlError) || mysqlError.Number != 1146 {
		t.Fatalf("unknown table = %v, want MySQL error 1146", err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("ping after errors: %v", err)
	}
	var two int64
	if err := db.QueryRow("SELECT 1 + 1").Scan(&two); err != nil || two != 2 {
		t.Fatalf("SELECT 1 + 1 after errors = %d, %v", two, err)
	}
}

func asMySQLError(err error, target **mysql.MySQLError) bool {
	return errors.As(err, target)
}
