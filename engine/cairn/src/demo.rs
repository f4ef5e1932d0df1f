//! The sensor demo of the StarRocks real-time walkthrough: a simulator that pushes readings
//! of a few sensors every second over the MySQL protocol, as the walkthrough's
//! `push_data.py` does, into `realtime_demo.sensor_data`.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use rand::Rng;
use tracing::{info, warn};

const SENSORS: i32 = 5;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS realtime_demo.sensor_data (
    sensor_id INT NOT NULL COMMENT 'sensor number',
    ts DATETIME NOT NULL COMMENT 'time of the reading',
    temperature DOUBLE COMMENT 'degrees Celsius',
    humidity DOUBLE COMMENT 'relative humidity, percent'
)
DUPLICATE KEY(sensor_id, ts)
PARTITION BY date_trunc('day', ts)
DISTRIBUTED BY HASH(sensor_id) BUCKETS 2
PROPERTIES ('replication_num' = '1')";

/// Pushes readings forever; reconnects when the connection drops.
pub(crate) async fn run_sensors(query_port: u16) {
    let url = format!("mysql://root@127.0.0.1:{query_port}?prefer_socket=false");
    loop {
        if let Err(error) = push(&url).await {
            warn!(%error, "sensor demo lost its connection; retrying");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn push(url: &str) -> Result<(), mysql_async::Error> {
    let pool = mysql_async::Pool::new(url);
    let mut connection = pool.get_conn().await?;
    connection.query_drop("CREATE DATABASE IF NOT EXISTS realtime_demo").await?;
    connection.query_drop(CREATE_TABLE).await?;
    info!("sensor demo: pushing {SENSORS} readings a second into realtime_demo.sensor_data");
    let mut temperatures: Vec<f64> = (0..SENSORS).map(|sensor| 20.0 + f64::from(sensor)).collect();
    let mut humidities: Vec<f64> = (0..SENSORS).map(|sensor| 40.0 + 2.0 * f64::from(sensor)).collect();
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        let values: Vec<String> = {
            let mut random = rand::rng();
            (0..SENSORS)
                .map(|sensor| {
                    let index = sensor as usize;
                    temperatures[index] = (temperatures[index] + random.random_range(-0.5..0.5)).clamp(-20.0, 50.0);
                    humidities[index] = (humidities[index] + random.random_range(-1.0..1.0)).clamp(0.0, 100.0);
                    format!("({}, NOW(), {:.2}, {:.2})", sensor + 1, temperatures[index], humidities[index])
                })
                .collect()
        };
        connection
            .query_drop(format!(
                "INSERT INTO realtime_demo.sensor_data (sensor_id, ts, temperature, humidity) VALUES {}",
                values.join(", ")
            ))
            .await?;
    }
}
