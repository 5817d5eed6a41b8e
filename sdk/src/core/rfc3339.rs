//! RFC 3339 timestamps read as `time`'s `Rfc3339` reads them, without its
//! general parser: the browser's wire readers use it to weigh less, the
//! native worker's check of journal lines to be quick. Held to `time` by
//! the tests of `lean_json`.

use time::OffsetDateTime;

/// An RFC 3339 timestamp as `time`'s `Rfc3339` reads it, without its
/// general parser: `YYYY-MM-DD`, any one byte, `hh:mm:ss`, a fraction of
/// any length (digits past the ninth ignored), then `Z`, `z` or `±hh:mm`. A
/// second of 60 stands for the last nanosecond before it, and only at the
/// end of a month in UTC.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    let number = |at: usize, len: usize| -> Option<u16> {
        let digits = bytes.get(at..at + len)?;
        digits.iter().try_fold(0u16, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u16::from(digit - b'0'))
        })
    };
    let literal = |at: usize, byte: u8| (bytes.get(at) == Some(&byte)).then_some(());
    let year = number(0, 4)?;
    literal(4, b'-')?;
    let month = number(5, 2)?;
    literal(7, b'-')?;
    let day = number(8, 2)?;
    // Byte 10 is the separator, whatever it is.
    let hour = number(11, 2)?;
    literal(13, b':')?;
    let minute = number(14, 2)?;
    literal(16, b':')?;
    let mut second = number(17, 2)?;
    let mut at = 19;
    let mut nanosecond = 0u32;
    if bytes.get(at) == Some(&b'.') {
        let digits = bytes[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let mut place = 100_000_000;
        for &digit in &bytes[at + 1..at + 1 + digits] {
            nanosecond += u32::from(digit - b'0') * place;
            place /= 10;
        }
        at += 1 + digits;
    }
    let offset = match *bytes.get(at)? {
        b'Z' | b'z' => {
            at += 1;
            time::UtcOffset::UTC
        }
        sign @ (b'+' | b'-') => {
            let hours = number(at + 1, 2).filter(|&hours| hours <= 23)?;
            literal(at + 3, b':')?;
            let minutes = number(at + 4, 2)?;
            at += 6;
            let (hours, minutes) = (hours as i8, i8::try_from(minutes).ok()?);
            let (hours, minutes) = if sign == b'-' {
                (-hours, -minutes)
            } else {
                (hours, minutes)
            };
            time::UtcOffset::from_hms(hours, minutes, 0).ok()?
        }
        _ => return None,
    };
    if at != bytes.len() {
        return None;
    }
    let leap = second == 60;
    if leap {
        second = 59;
        nanosecond = 999_999_999;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok()?;
    let time =
        time::Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanosecond).ok()?;
    let ts = time::PrimitiveDateTime::new(date, time).assume_offset(offset);
    if leap {
        let utc = ts.to_offset(time::UtcOffset::UTC);
        let last_of_month = utc.date().next_day().is_none_or(|next| next.day() == 1);
        if (utc.hour(), utc.minute(), utc.second()) != (23, 59, 59) || !last_of_month {
            return None;
        }
    }
    Some(ts)
}
