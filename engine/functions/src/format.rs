//! MySQL date format codes (`%Y-%m-%d %H:%i:%s`), shared by DATE_FORMAT,
//! FROM_UNIXTIME(n, format) and STR_TO_DATE, plus MySQL's week numbering.
//!
//! Unknown codes behave as in MySQL: `%Q` formats as `Q` and must match a literal
//! `Q` when parsing. Nothing here panics on user input.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::temporal::{build_datetime, fraction_to_micros, mysql_day_number};

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// Monday first, as chrono's `num_days_from_monday`.
const WEEKDAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

// MySQL's week mode bits (sql_time.h).
const WEEK_MONDAY_FIRST: u32 = 1;
const WEEK_YEAR: u32 = 2;
const WEEK_FIRST_WEEKDAY: u32 = 4;

/// Formats `value` with MySQL's DATE_FORMAT codes.
pub(crate) fn format_datetime(value: NaiveDateTime, format: &str) -> String {
    let mut output = String::with_capacity(format.len() + 16);
    let mut characters = format.chars();
    while let Some(character) = characters.next() {
        if character != '%' {
            output.push(character);
            continue;
        }
        let Some(code) = characters.next() else {
            // A trailing lone '%' is kept, as MySQL does.
            output.push('%');
            break;
        };
        push_code(&mut output, value, code);
    }
    output
}

fn push_code(output: &mut String, value: NaiveDateTime, code: char) {
    use std::fmt::Write;
    let hour12 = match value.hour() % 12 {
        0 => 12,
        hour => hour,
    };
    let am_pm = if value.hour() < 12 { "AM" } else { "PM" };
    // Writing to a String cannot fail; the results are ignored deliberately.
    let _ = match code {
        'Y' => write!(output, "{:04}", value.year()),
        'y' => write!(output, "{:02}", value.year().rem_euclid(100)),
        'm' => write!(output, "{:02}", value.month()),
        'c' => write!(output, "{}", value.month()),
        'd' => write!(output, "{:02}", value.day()),
        'e' => write!(output, "{}", value.day()),
        'D' => write!(output, "{}{}", value.day(), ordinal_suffix(value.day())),
        'H' => write!(output, "{:02}", value.hour()),
        'k' => write!(output, "{}", value.hour()),
        'h' | 'I' => write!(output, "{hour12:02}"),
        'l' => write!(output, "{hour12}"),
        'i' => write!(output, "{:02}", value.minute()),
        's' | 'S' => write!(output, "{:02}", value.second()),
        'f' => write!(output, "{:06}", value.nanosecond() / 1_000),
        'p' => write!(output, "{am_pm}"),
        'T' => write!(
            output,
            "{:02}:{:02}:{:02}",
            value.hour(),
            value.minute(),
            value.second()
        ),
        'r' => write!(
            output,
            "{hour12:02}:{:02}:{:02} {am_pm}",
            value.minute(),
            value.second()
        ),
        'W' => write!(output, "{}", weekday_name(value.date())),
        'a' => write!(output, "{}", &weekday_name(value.date())[..3]),
        'w' => write!(output, "{}", value.weekday().num_days_from_sunday()),
        'M' => write!(output, "{}", month_name(value.month())),
        'b' => write!(output, "{}", &month_name(value.month())[..3]),
        'j' => write!(output, "{:03}", value.ordinal()),
        'U' => write!(
            output,
            "{:02}",
            week_number(value.date(), WEEK_FIRST_WEEKDAY).0
        ),
        'u' => write!(
            output,
            "{:02}",
            week_number(value.date(), WEEK_MONDAY_FIRST).0
        ),
        'V' => write!(
            output,
            "{:02}",
            week_number(value.date(), WEEK_YEAR | WEEK_FIRST_WEEKDAY).0
        ),
        'v' => write!(
            output,
            "{:02}",
            week_number(value.date(), WEEK_YEAR | WEEK_MONDAY_FIRST).0
        ),
        'X' => write!(
            output,
            "{:04}",
            week_number(value.date(), WEEK_YEAR | WEEK_FIRST_WEEKDAY).1
        ),
        'x' => write!(
            output,
            "{:04}",
            week_number(value.date(), WEEK_YEAR | WEEK_MONDAY_FIRST).1
        ),
        other => write!(output, "{other}"),
    };
}

fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

pub(crate) fn month_name(month: u32) -> &'static str {
    MONTH_NAMES
        .get(month.wrapping_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

pub(crate) fn weekday_name(date: NaiveDate) -> &'static str {
    WEEKDAY_NAMES[date.weekday().num_days_from_monday() as usize]
}

/// MySQL's `WEEK(date, mode)`: the week mode is normalised as in `week_mode()`.
pub(crate) fn week_of_mode(date: NaiveDate, mode: i64) -> u32 {
    let mut behaviour = (mode.rem_euclid(8)) as u32;
    if behaviour & WEEK_MONDAY_FIRST == 0 {
        behaviour ^= WEEK_FIRST_WEEKDAY;
    }
    week_number(date, behaviour).0
}

/// MySQL's `calc_week`: returns the week number and the year it belongs to.
pub(crate) fn week_number(date: NaiveDate, behaviour: u32) -> (u32, i32) {
    let day_number = mysql_day_number(date);
    let mut first_day_number =
        mysql_day_number(NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date));
    let monday_first = behaviour & WEEK_MONDAY_FIRST != 0;
    let mut week_year = behaviour & WEEK_YEAR != 0;
    let first_weekday = behaviour & WEEK_FIRST_WEEKDAY != 0;
    let mut year = date.year();

    let mut weekday = calc_weekday(first_day_number, !monday_first);
    if date.month() == 1 && i64::from(date.day()) <= 7 - weekday {
        if !week_year && ((first_weekday && weekday != 0) || (!first_weekday && weekday >= 4)) {
            return (0, year);
        }
        week_year = true;
        year -= 1;
        let days = days_in_year(year);
        first_day_number -= days;
        weekday = (weekday + 53 * 7 - days).rem_euclid(7);
    }
    let days = if (first_weekday && weekday != 0) || (!first_weekday && weekday >= 4) {
        day_number - (first_day_number + (7 - weekday))
    } else {
        day_number - (first_day_number - weekday)
    };
    if week_year && days >= 52 * 7 {
        let weekday = (weekday + days_in_year(year)).rem_euclid(7);
        if (!first_weekday && weekday < 4) || (first_weekday && weekday == 0) {
            return (1, year + 1);
        }
    }
    ((days / 7 + 1) as u32, year)
}

/// 0 = Monday (or 0 = Sunday when `sunday_first`), from a MySQL day number.
fn calc_weekday(day_number: i64, sunday_first: bool) -> i64 {
    (day_number + 5 + i64::from(sunday_first)).rem_euclid(7)
}

fn days_in_year(year: i32) -> i64 {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// Whether a format string produces a time of day (used to document STR_TO_DATE).
#[cfg(test)]
fn has_time_codes(format: &str) -> bool {
    let mut characters = format.chars();
    while let Some(character) = characters.next() {
        if character == '%'
            && let Some(code) = characters.next()
            && matches!(
                code,
                'H' | 'k' | 'h' | 'I' | 'l' | 'i' | 's' | 'S' | 'f' | 'T' | 'r' | 'p'
            )
        {
            return true;
        }
    }
    false
}

/// Fields collected while parsing; unset date fields default to 1 and time to 0.
#[derive(Default)]
struct ParsedFields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
    twelve_hour: bool,
    post_meridiem: Option<bool>,
}

/// MySQL's STR_TO_DATE: parses `input` with `format`. Returns `None` when the input
/// does not match the format or names an impossible date. Extra input after the
/// format is ignored, as MySQL does; missing month or day default to 1.
pub(crate) fn parse_with_format(input: &str, format: &str) -> Option<NaiveDateTime> {
    let mut fields = ParsedFields::default();
    let mut cursor = Cursor {
        text: input.as_bytes(),
        position: 0,
    };
    let format = format.as_bytes();
    let mut index = 0;
    while index < format.len() {
        let byte = format[index];
        if byte.is_ascii_whitespace() {
            // Whitespace in the format matches any run of whitespace, including none.
            cursor.skip_whitespace();
            index += 1;
            continue;
        }
        if byte != b'%' || index + 1 >= format.len() {
            if !cursor.expect(byte) {
                return None;
            }
            index += 1;
            continue;
        }
        let code = format[index + 1];
        index += 2;
        parse_code(&mut cursor, &mut fields, code)?;
    }
    finish(fields)
}

fn parse_code(cursor: &mut Cursor<'_>, fields: &mut ParsedFields, code: u8) -> Option<()> {
    match code {
        b'Y' => {
            cursor.skip_whitespace();
            let start = cursor.position;
            let value = cursor.number(4)?;
            let year = if cursor.position - start <= 2 {
                two_digit_year(value)
            } else {
                value as i32
            };
            fields.year = Some(year);
        }
        b'y' => {
            cursor.skip_whitespace();
            fields.year = Some(two_digit_year(cursor.number(2)?));
        }
        b'm' | b'c' => fields.month = Some(cursor.skip_whitespace().number(2)?),
        b'd' | b'e' => fields.day = Some(cursor.skip_whitespace().number(2)?),
        b'D' => {
            fields.day = Some(cursor.skip_whitespace().number(2)?);
            cursor.skip_letters(2);
        }
        b'H' | b'k' => fields.hour = cursor.skip_whitespace().number(2)?,
        b'h' | b'I' | b'l' => {
            fields.hour = cursor.skip_whitespace().number(2)?;
            fields.twelve_hour = true;
        }
        b'i' => fields.minute = cursor.skip_whitespace().number(2)?,
        b's' | b'S' => fields.second = cursor.skip_whitespace().number(2)?,
        b'f' => {
            let start = cursor.position;
            cursor.number(6)?;
            let digits = std::str::from_utf8(&cursor.text[start..cursor.position]).ok()?;
            fields.micros = fraction_to_micros(digits)?;
        }
        b'p' => {
            cursor.skip_whitespace();
            let word = cursor.take_letters();
            fields.post_meridiem = Some(match word.to_ascii_uppercase().as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
        }
        b'M' | b'b' => {
            cursor.skip_whitespace();
            let word = cursor.take_letters();
            fields.month = Some(month_from_name(&word, code == b'b')?);
        }
        b'W' | b'a' => {
            // Weekday names are checked for spelling and otherwise ignored.
            cursor.skip_whitespace();
            let word = cursor.take_letters();
            let known = WEEKDAY_NAMES.iter().any(|name| {
                if code == b'a' {
                    name[..3].eq_ignore_ascii_case(&word)
                } else {
                    name.eq_ignore_ascii_case(&word)
                }
            });
            if !known {
                return None;
            }
        }
        b'w' => {
            cursor.skip_whitespace().number(1)?;
        }
        b'j' => fields.day_of_year = Some(cursor.skip_whitespace().number(3)?),
        b'T' => {
            fields.hour = cursor.skip_whitespace().number(2)?;
            cursor.expect(b':').then_some(())?;
            fields.minute = cursor.number(2)?;
            cursor.expect(b':').then_some(())?;
            fields.second = cursor.number(2)?;
        }
        b'r' => {
            fields.hour = cursor.skip_whitespace().number(2)?;
            fields.twelve_hour = true;
            cursor.expect(b':').then_some(())?;
            fields.minute = cursor.number(2)?;
            cursor.expect(b':').then_some(())?;
            fields.second = cursor.number(2)?;
            cursor.skip_whitespace();
            let word = cursor.take_letters();
            fields.post_meridiem = Some(match word.to_ascii_uppercase().as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
        }
        other => {
            // `%%` and unknown codes match the character itself.
            cursor.expect(other).then_some(())?;
        }
    }
    Some(())
}

fn finish(fields: ParsedFields) -> Option<NaiveDateTime> {
    let mut hour = fields.hour;
    if fields.twelve_hour || fields.post_meridiem.is_some() {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour %= 12;
        if fields.post_meridiem == Some(true) {
            hour += 12;
        }
    }
    let year = fields.year.unwrap_or(2000);
    if let Some(day_of_year) = fields.day_of_year {
        let date = NaiveDate::from_yo_opt(year, day_of_year)?;
        return build_datetime(
            year,
            date.month(),
            date.day(),
            hour,
            fields.minute,
            fields.second,
            fields.micros,
        );
    }
    build_datetime(
        year,
        fields.month.unwrap_or(1),
        fields.day.unwrap_or(1),
        hour,
        fields.minute,
        fields.second,
        fields.micros,
    )
}

fn two_digit_year(value: u32) -> i32 {
    let value = value as i32;
    if value < 70 {
        2000 + value
    } else {
        1900 + value
    }
}

fn month_from_name(word: &str, abbreviated: bool) -> Option<u32> {
    MONTH_NAMES
        .iter()
        .position(|name| {
            if abbreviated {
                name[..3].eq_ignore_ascii_case(word)
            } else {
                name.eq_ignore_ascii_case(word) || name[..3].eq_ignore_ascii_case(word)
            }
        })
        .map(|index| index as u32 + 1)
}

struct Cursor<'a> {
    text: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn skip_whitespace(&mut self) -> &mut Self {
        while self.position < self.text.len() && self.text[self.position].is_ascii_whitespace() {
            self.position += 1;
        }
        self
    }

    /// Reads 1 to `max_digits` decimal digits.
    fn number(&mut self, max_digits: usize) -> Option<u32> {
        let start = self.position;
        while self.position < self.text.len()
            && self.position - start < max_digits
            && self.text[self.position].is_ascii_digit()
        {
            self.position += 1;
        }
        if self.position == start {
            return None;
        }
        std::str::from_utf8(&self.text[start..self.position])
            .ok()?
            .parse()
            .ok()
    }

    fn expect(&mut self, byte: u8) -> bool {
        if self.text.get(self.position) == Some(&byte) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn take_letters(&mut self) -> String {
        let start = self.position;
        while self.position < self.text.len() && self.text[self.position].is_ascii_alphabetic() {
            self.position += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.position]).into_owned()
    }

    fn skip_letters(&mut self, count: usize) {
        for _ in 0..count {
            if self
                .text
                .get(self.position)
                .is_some_and(u8::is_ascii_alphabetic)
            {
                self.position += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datetime(text: &str) -> NaiveDateTime {
        crate::temporal::parse_datetime(text).expect("test literal parses")
    }

    #[test]
    fn formats_every_code() {
        let value = datetime("2024-03-05 14:07:09.012345");
        assert_eq!(
            format_datetime(value, "%Y %y %m %c %d %e %D %H %k %h %I %l %i %s %S %f %p"),
            "2024 24 03 3 05 5 5th 14 14 02 02 2 07 09 09 012345 PM"
        );
        assert_eq!(
            format_datetime(value, "%W %a %w %M %b %j %T %r %% %Q"),
            "Tuesday Tue 2 March Mar 065 14:07:09 02:07:09 PM % Q"
        );
        assert_eq!(format_datetime(value, "100%"), "100%");
    }

    #[test]
    fn week_numbers_match_mysql() {
        // Values checked against MySQL 8: 2024-01-01 is a Monday, 2023-01-01 a Sunday.
        let monday = datetime("2024-01-01");
        assert_eq!(
            format_datetime(monday, "%U %u %V %v %X %x"),
            "00 01 53 01 2023 2024"
        );
        let sunday = datetime("2023-01-01");
        assert_eq!(
            format_datetime(sunday, "%U %u %V %v %X %x"),
            "01 00 01 52 2023 2022"
        );
        assert_eq!(week_of_mode(sunday.date(), 0), 1);
        assert_eq!(week_of_mode(datetime("2024-12-30").date(), 3), 1);
    }

    #[test]
    fn parses_with_format() {
        assert_eq!(
            parse_with_format("2024-03-05 14:07:09", "%Y-%m-%d %H:%i:%s"),
            Some(datetime("2024-03-05 14:07:09"))
        );
        assert_eq!(
            parse_with_format("05/03/24 2:07:09 PM", "%d/%m/%y %r"),
            Some(datetime("2024-03-05 14:07:09"))
        );
        assert_eq!(
            parse_with_format("March 5th, 2024", "%M %D, %Y"),
            Some(datetime("2024-03-05"))
        );
        assert_eq!(parse_with_format("2024-13-01", "%Y-%m-%d"), None);
        assert_eq!(parse_with_format("abc", "%Y-%m-%d"), None);
        assert_eq!(parse_with_format("2024-03-05", "%Q"), None);
        assert!(!has_time_codes("%Y-%m-%d"));
        assert!(has_time_codes("%Y-%m-%d %T"));
    }
}
