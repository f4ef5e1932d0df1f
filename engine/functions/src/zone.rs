//! The session time zone: parsing MySQL time zone strings and converting between
//! StarRocks DATETIME wall clocks and instants.
//!
//! DataFusion 55 hands every scalar function the session's `ConfigOptions` (in
//! `ScalarFunctionArgs::config_options` at execution and in `SimplifyContext` during
//! constant folding), so functions read `datafusion.execution.time_zone` from there
//! instead of the rewrite injecting the zone as an extra argument.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use datafusion::common::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};

/// A time zone as MySQL accepts it in `SET time_zone`: a fixed offset such as `+08:00`
/// or a tz database name such as `Asia/Shanghai`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionZone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl SessionZone {
    pub(crate) const UTC: SessionZone = SessionZone::Fixed(match FixedOffset::east_opt(0) {
        Some(offset) => offset,
        None => unreachable!(),
    });

    /// Parses `SYSTEM` (UTC in Cairn: servers run in UTC), `UTC`, `+08:00`, `-5:30`,
    /// `+0800` and tz database names. Returns `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<SessionZone> {
        let trimmed = text.trim();
        if trimmed.is_empty()
            || trimmed.eq_ignore_ascii_case("SYSTEM")
            || trimmed.eq_ignore_ascii_case("UTC")
            || trimmed.eq_ignore_ascii_case("GMT")
            || trimmed == "Z"
        {
            return Some(SessionZone::UTC);
        }
        if let Some(offset) = parse_offset(trimmed) {
            return Some(SessionZone::Fixed(offset));
        }
        chrono_tz::Tz::from_str(trimmed)
            .ok()
            .map(SessionZone::Named)
    }

    /// The zone DataFusion was configured with for this session (UTC when unset).
    pub(crate) fn from_config(config: &ConfigOptions) -> Result<SessionZone> {
        match config.execution.time_zone.as_deref() {
            None => Ok(SessionZone::UTC),
            Some(text) => SessionZone::parse(text).ok_or_else(|| {
                DataFusionError::Execution(format!("Unknown or incorrect time zone: '{text}'"))
            }),
        }
    }

    /// The wall clock in this zone at `instant`.
    pub(crate) fn wall_clock(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            SessionZone::Fixed(offset) => instant.with_timezone(offset).naive_local(),
            SessionZone::Named(zone) => instant.with_timezone(zone).naive_local(),
        }
    }

    /// The instant at which this zone's wall clock shows `wall_clock`.
    ///
    /// Ambiguous wall clocks (the repeated hour when DST ends) take the earlier
    /// instant and skipped ones (the gap when DST starts) use the offset in force
    /// just before the gap, which is what MySQL does.
    pub(crate) fn instant(&self, wall_clock: NaiveDateTime) -> DateTime<Utc> {
        match self {
            SessionZone::Fixed(offset) => resolve(offset, wall_clock),
            SessionZone::Named(zone) => resolve(zone, wall_clock),
        }
    }
}

fn resolve<Zone: TimeZone>(zone: &Zone, wall_clock: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&wall_clock) {
        LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
            instant.with_timezone(&Utc)
        }
        LocalResult::None => {
            let offset_before_gap = zone
                .offset_from_utc_datetime(&(wall_clock - chrono::Duration::hours(3)))
                .fix();
            (wall_clock - offset_before_gap).and_utc()
        }
    }
}

/// `+08:00`, `-05:30`, `+8:00`, `+0800`, `+08`.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &text[1..];
    let (hours, minutes) = match body.split_once(':') {
        Some((hours, minutes)) => (hours, minutes),
        None if body.len() == 4 => body.split_at(2),
        None => (body, "0"),
    };
    if hours.is_empty()
        || hours.len() > 2
        || minutes.is_empty()
        || minutes.len() > 2
        || !hours.bytes().all(|byte| byte.is_ascii_digit())
        || !minutes.bytes().all(|byte| byte.is_ascii_digit())
    {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    // MySQL accepts offsets from -13:59 to +14:00.
    if minutes > 59 || hours * 60 + minutes > 14 * 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Normalises a MySQL time zone string into one DataFusion's own functions also
/// understand (`SYSTEM` becomes `+00:00`), or `None` when it is not a time zone.
pub(crate) fn normalize(text: &str) -> Option<String> {
    let zone = SessionZone::parse(text)?;
    Some(match zone {
        SessionZone::Fixed(offset) => offset.to_string(),
        SessionZone::Named(zone) => zone.name().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mysql_zone_spellings() {
        assert_eq!(normalize("SYSTEM").as_deref(), Some("+00:00"));
        assert_eq!(normalize("+08:00").as_deref(), Some("+08:00"));
        assert_eq!(normalize("+8:00").as_deref(), Some("+08:00"));
        assert_eq!(normalize("-0530").as_deref(), Some("-05:30"));
        assert_eq!(normalize("Asia/Shanghai").as_deref(), Some("Asia/Shanghai"));
        assert_eq!(normalize("Mars/Olympus"), None);
        assert_eq!(normalize("+25:00"), None);
    }
}
