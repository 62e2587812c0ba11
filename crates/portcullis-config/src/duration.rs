//! Durations as written in gateway.yaml: `500ms`, `30s`, `15m`, `12h`, `7d`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A positive duration with a whole number of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Duration {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }

    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }

    pub const fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Duration> {
        let bad = || Error::InvalidDuration(s.to_owned());
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (digits, unit) = s.split_at(split);
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return Err(bad());
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| Error::DurationTooLarge(s.to_owned()))?;
        if n == 0 {
            return Err(bad());
        }
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        let ms = n
            .checked_mul(millis_per_unit)
            .ok_or_else(|| Error::DurationTooLarge(s.to_owned()))?;
        Ok(Duration::from_millis(ms))
    }
}

impl fmt::Display for Duration {
    /// The largest unit that divides the duration evenly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, per) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms >= per && ms.is_multiple_of(per) {
                return write!(f, "{}{unit}", ms / per);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Duration> {
        s.parse()
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(d("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(d("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(d("7d"), Ok(Duration::from_secs(604_800)));
    }

    #[test]
    fn rejects_what_is_not_a_positive_whole_number_of_a_unit() {
        for bad in [
            "", "30", "s", "0s", "-1s", "1.5s", "1 s", " 1s", "1S", "1sec", "1w", "01s", "1h30m",
        ] {
            assert_eq!(
                d(bad),
                Err(Error::InvalidDuration(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            d("99999999999999999999s"),
            Err(Error::DurationTooLarge(_))
        ));
        assert!(matches!(
            d("18446744073709551615d"),
            Err(Error::DurationTooLarge(_))
        ));
    }

    #[test]
    fn error_message_names_the_value() {
        let msg = d("10x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with("invalid duration \"10x\""), "{msg}");
    }

    #[test]
    fn displays_in_the_largest_even_unit() {
        assert_eq!(Duration::from_secs(60).to_string(), "1m");
        assert_eq!(Duration::from_secs(90).to_string(), "90s");
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Duration::from_secs(86_400 * 30).to_string(), "30d");
    }
}
