//! [`TimeWindow`]: `match.time`, weekdays and a span of wall-clock hours in
//! an IANA time zone. No I/O: the time zone database is compiled into the
//! binary (jiff's bundled tzdb), and the time comes from the
//! [`RouteInput`](super::RouteInput).
//!
//! A window is tested on the local wall-clock time at the request's
//! instant, which is what makes it right across daylight-saving changes:
//! on the day the clocks go forward, the skipped hour (01:00-02:00 in
//! Europe/London, 02:00-03:00 in America/New_York) never occurs, so a
//! window inside it does not match that day; on the day they go back, the
//! repeated hour occurs twice and matches both times.
//!
//! Hours are `HH:MM-HH:MM`, the end excluded; `00:00-24:00` is the whole
//! day. A window whose end is before its start crosses midnight
//! (`22:00-06:00`) and **belongs to the day it starts on**: with days
//! `fri`, it matches Friday from 22:00 and Saturday until 06:00.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Minutes in a day.
const DAY_MINUTES: u16 = 24 * 60;

/// Day names, Monday first (bit 0 of the day mask).
/// The day names, Monday first (bit 0 of a day mask).
pub(crate) const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Weekdays and hours in a time zone.
#[derive(Debug, Clone)]
pub struct TimeWindow {
    /// Bit `d` set: the window starts on weekday `d` (0 = Monday).
    days: u8,
    /// Minutes after local midnight, `start < DAY_MINUTES`.
    start: u16,
    /// Minutes after local midnight, `1..=DAY_MINUTES`, not `start`.
    end: u16,
    tz: TimeZone,
}

/// What is wrong with a time window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeProblem {
    /// The days do not parse.
    #[error(
        "days '{0}' are not valid; write a range \"mon-fri\", one day \"sat\" or a list \
         \"mon,wed,fri\" (days: mon tue wed thu fri sat sun)"
    )]
    Days(String),
    /// The hours do not parse.
    #[error(
        "hours '{0}' are not valid; write \"HH:MM-HH:MM\" (end excluded, \"22:00-06:00\" \
         crosses midnight, \"00:00-24:00\" is the whole day)"
    )]
    Hours(String),
    /// Start and end are the same time.
    #[error("hours '{0}' start and end at the same time; for the whole day write \"00:00-24:00\"")]
    EmptyHours(String),
    /// An unknown time zone.
    #[error("time zone '{name}' is not known ({reason}); use an IANA name such as Europe/London")]
    TimeZone {
        /// As written.
        name: String,
        /// The time zone database's answer.
        reason: String,
    },
}

impl TimeWindow {
    /// The window `days`, `hours` in the IANA time zone `tz` (see the
    /// module docs for the syntax).
    pub fn new(days: &str, hours: &str, tz: &str) -> Result<TimeWindow, TimeProblem> {
        let days_mask = parse_days(days).ok_or_else(|| TimeProblem::Days(days.to_owned()))?;
        let (start, end) =
            parse_hours(hours).ok_or_else(|| TimeProblem::Hours(hours.to_owned()))?;
        if start == end || (start == 0 && end == 0) {
            return Err(TimeProblem::EmptyHours(hours.to_owned()));
        }
        let tz = TimeZone::get(tz.trim()).map_err(|e| TimeProblem::TimeZone {
            name: tz.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(TimeWindow {
            days: days_mask,
            start,
            end,
            tz,
        })
    }

    /// True when the instant `unix_secs` falls in the window.
    pub fn contains(&self, unix_secs: u64) -> bool {
        let secs = i64::try_from(unix_secs).unwrap_or(i64::MAX);
        let offset = Timestamp::from_second(secs)
            .map(|ts| i64::from(self.tz.to_offset(ts).seconds()))
            .unwrap_or(0);
        let local = secs.saturating_add(offset);
        let day = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (3 days after a Monday).
        let weekday = (day + 3).rem_euclid(7) as u32;
        let minute = (local.rem_euclid(86_400) / 60) as u16;
        let starts_on = |d: u32| self.days & (1 << d) != 0;
        if self.start < self.end {
            starts_on(weekday) && (self.start..self.end).contains(&minute)
        } else {
            (starts_on(weekday) && minute >= self.start)
                || (starts_on((weekday + 6) % 7) && minute < self.end)
        }
    }
}

/// `mon-fri`, `sat`, `mon,wed,fri`, or a list of days and ranges; a range
/// may wrap (`fri-mon`). Case is ignored. The one parser of the format (the
/// routing file's checks use it too).
pub(crate) fn parse_days(s: &str) -> Option<u8> {
    let day = |d: &str| {
        let d = d.trim().to_ascii_lowercase();
        DAYS.iter().position(|&n| n == d)
    };
    let mut mask = 0u8;
    for item in s.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(item)?,
        }
    }
    Some(mask)
}

/// `HH:MM-HH:MM` as minutes, two digits each: the start below 24:00, the
/// end at most 24:00 (an end before the start crosses midnight; an end
/// equal to the start is the caller's to refuse). The one parser of the
/// format.
pub(crate) fn parse_hours(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.trim().split_once('-')?;
    let clock = |t: &str| {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= DAY_MINUTES).then_some(h * 60 + m)
    };
    let (start, end) = (clock(a)?, clock(b)?);
    (start < DAY_MINUTES).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the epoch of a UTC date and time.
    fn utc(s: &str) -> u64 {
        let ts: Timestamp = s.parse().unwrap();
        ts.as_second() as u64
    }

    fn w(days: &str, hours: &str, tz: &str) -> TimeWindow {
        TimeWindow::new(days, hours, tz).unwrap()
    }

    #[test]
    fn weekday_and_hour_boundaries() {
        let office = w("mon-fri", "08:00-18:00", "UTC");
        let cases = [
            ("2024-01-08T07:59:59Z", false), // Monday
            ("2024-01-08T08:00:00Z", true),
            ("2024-01-08T17:59:59Z", true),
            ("2024-01-08T18:00:00Z", false),
            ("2024-01-12T12:00:00Z", true),  // Friday
            ("2024-01-13T12:00:00Z", false), // Saturday
            ("2024-01-14T12:00:00Z", false), // Sunday
        ];
        for (t, want) in cases {
            assert_eq!(office.contains(utc(t)), want, "{t}");
        }
        let some = w("mon,wed,sun", "00:00-24:00", "UTC");
        let days: Vec<bool> = (8..15)
            .map(|d| some.contains(utc(&format!("2024-01-{d:02}T23:59:59Z"))))
            .collect();
        assert_eq!(days, [true, false, true, false, false, false, true]);
        assert!(some.contains(utc("2024-01-08T00:00:00Z")));
        let wrap = w("sat-mon", "00:00-24:00", "UTC");
        assert!(wrap.contains(utc("2024-01-08T10:00:00Z")));
        assert!(!wrap.contains(utc("2024-01-09T10:00:00Z")));
    }

    #[test]
    fn a_window_across_midnight_belongs_to_its_first_day() {
        let night = w("fri", "22:00-06:00", "UTC");
        let cases = [
            ("2024-01-12T21:59:00Z", false), // Friday
            ("2024-01-12T22:00:00Z", true),
            ("2024-01-13T05:59:59Z", true), // Saturday morning
            ("2024-01-13T06:00:00Z", false),
            ("2024-01-13T22:30:00Z", false), // Saturday night
            ("2024-01-12T05:00:00Z", false), // Friday morning (Thursday's night)
        ];
        for (t, want) in cases {
            assert_eq!(night.contains(utc(t)), want, "{t}");
        }
    }

    #[test]
    fn time_zones_follow_daylight_saving() {
        let london = w("mon-sun", "01:00-02:00", "Europe/London");
        // 2024-03-31: 01:00 GMT becomes 02:00 BST; 01:30 never occurs.
        for t in ["2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z"] {
            assert!(!london.contains(utc(t)), "{t}");
        }
        assert!(london.contains(utc("2024-03-30T01:30:00Z")));
        // 2024-10-27: 02:00 BST becomes 01:00 GMT; 01:30 occurs twice.
        assert!(london.contains(utc("2024-10-27T00:30:00Z"))); // 01:30 BST
        assert!(london.contains(utc("2024-10-27T01:30:00Z"))); // 01:30 GMT
        assert!(!london.contains(utc("2024-10-27T02:00:00Z"))); // 02:00 GMT

        let ny = w("sun", "02:00-03:00", "America/New_York");
        // 2024-03-10: 02:00 EST becomes 03:00 EDT.
        assert!(!ny.contains(utc("2024-03-10T07:30:00Z")));
        assert!(ny.contains(utc("2024-03-17T06:30:00Z")));
        // 2024-11-03: 02:00 EDT becomes 01:00 EST; 01:30 twice.
        let ny1 = w("sun", "01:00-02:00", "America/New_York");
        assert!(ny1.contains(utc("2024-11-03T05:30:00Z"))); // 01:30 EDT
        assert!(ny1.contains(utc("2024-11-03T06:30:00Z"))); // 01:30 EST
        assert!(!ny1.contains(utc("2024-11-03T07:30:00Z"))); // 02:30 EST
                                                             // Office hours shift with the clocks: 08:00 local is 08:00Z in
                                                             // winter and 07:00Z in summer.
        let office = w("mon-fri", "08:00-18:00", "Europe/London");
        assert!(office.contains(utc("2024-07-01T07:00:00Z")));
        assert!(!office.contains(utc("2024-01-08T07:00:00Z")));
    }

    #[test]
    fn bad_windows_say_what_is_right() {
        let err = |d, h, z| TimeWindow::new(d, h, z).unwrap_err().to_string();
        assert!(err("mon-fry", "08:00-18:00", "UTC").starts_with("days 'mon-fry' are not valid"));
        for h in [
            "8:00-18:00",
            "08:00-24:01",
            "24:00-06:00",
            "08:60-09:00",
            "0800",
        ] {
            assert!(
                err("mon", h, "UTC").starts_with(&format!("hours '{h}'")),
                "{h}"
            );
        }
        assert!(err("mon", "08:00-08:00", "UTC").contains("same time"));
        assert!(err("mon", "08:00-09:00", "Europe/Londn")
            .starts_with("time zone 'Europe/Londn' is not known"));
    }
}
