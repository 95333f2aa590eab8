use std::fmt;

/// Errors building a [`LunarDate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LunarDateError {
    #[error(
        "birth date {0:?} is not in the form YYYY-MM-DD (day and month may be 00 when unknown)"
    )]
    Format(String),
    #[error("birth date {0:?}: month {1} is above 12; use 00 when the month is unknown")]
    Month(String, u8),
    #[error("birth date {0:?}: day {1} is above 31; use 00 when the day is unknown")]
    Day(String, u8),
}

/// A birth date as INSi and the carte Vitale carry it: `YYYY-MM-DD` where the day and the
/// month may be `00` (unknown). Some registered dates do not exist in the calendar
/// (e.g. 31 February), so this is deliberately not a calendar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LunarDate {
    year: u16,
    month: u8,
    day: u8,
}

impl LunarDate {
    /// Parses `YYYY-MM-DD`; also accepts `DD/MM/YYYY`, the form French users type.
    pub fn parse(input: &str) -> Result<Self, LunarDateError> {
        let s = input.trim();
        let err = || LunarDateError::Format(input.to_owned());
        let (y, m, d) = if let Some((d, rest)) = s.split_once('/') {
            let (m, y) = rest.split_once('/').ok_or_else(err)?;
            (y, m, d)
        } else {
            let mut parts = s.splitn(3, '-');
            let y = parts.next().ok_or_else(err)?;
            let m = parts.next().ok_or_else(err)?;
            let d = parts.next().ok_or_else(err)?;
            (y, m, d)
        };
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
            return Err(err());
        }
        let year: u16 = y.parse().map_err(|_| err())?;
        let month: u8 = m.parse().map_err(|_| err())?;
        let day: u8 = d.parse().map_err(|_| err())?;
        if month > 12 {
            return Err(LunarDateError::Month(input.to_owned(), month));
        }
        if day > 31 {
            return Err(LunarDateError::Day(input.to_owned(), day));
        }
        Ok(Self { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }
    /// 0 when unknown.
    pub fn month(self) -> u8 {
        self.month
    }
    /// 0 when unknown.
    pub fn day(self) -> u8 {
        self.day
    }

    /// The same date with day and month swapped, when that is still a possible date and differs:
    /// a day/month inversion is a common typing error.
    pub fn swapped_day_month(self) -> Option<Self> {
        if self.day == self.month || self.day == 0 || self.day > 12 {
            return None;
        }
        Some(Self {
            year: self.year,
            month: self.day,
            day: self.month,
        })
    }
}

impl fmt::Display for LunarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_day_and_month_are_kept() {
        let d = LunarDate::parse("1948-00-00").unwrap();
        assert_eq!(d.to_string(), "1948-00-00");
        assert_eq!((d.month(), d.day()), (0, 0));
    }

    #[test]
    fn dates_outside_the_calendar_are_kept() {
        assert_eq!(
            LunarDate::parse("1950-02-31").unwrap().to_string(),
            "1950-02-31"
        );
    }

    #[test]
    fn french_form_is_accepted() {
        assert_eq!(
            LunarDate::parse("21/03/1948").unwrap().to_string(),
            "1948-03-21"
        );
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            "",
            "1948-3-21",
            "48-03-21",
            "1948/03/21",
            "1948-03-21T00",
            "abcd-ef-gh",
            "1948-13-01",
            "1948-01-32",
        ] {
            assert!(LunarDate::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn day_month_swap() {
        let d = LunarDate::parse("1948-03-12").unwrap();
        assert_eq!(d.swapped_day_month().unwrap().to_string(), "1948-12-03");
        assert!(
            LunarDate::parse("1948-03-21")
                .unwrap()
                .swapped_day_month()
                .is_none()
        );
    }
}
