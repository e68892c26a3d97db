//! Durations as users write them on the command line and in configuration.

/// Parses a positive duration in seconds: a number of seconds, or a number with `s`, `m`,
/// `h`, `d` or `w` (`90`, `15m`, `30d`).
pub fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: use seconds or a number with s, m, h, d or w (e.g. 30d)")),
    };
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration (e.g. 30d)"))?;
    match number.checked_mul(scale) {
        Some(0) | None => Err(format!("{text:?}: a duration must be positive and reasonable")),
        Some(seconds) => Ok(seconds),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(super::parse_duration_secs("90"), Ok(90));
        assert_eq!(super::parse_duration_secs("15m"), Ok(900));
        assert_eq!(super::parse_duration_secs("30d"), Ok(30 * 86_400));
        assert_eq!(super::parse_duration_secs("2w"), Ok(14 * 86_400));
        for bad in ["", "0", "5y", "d", "-3h", "7 days", "99999999999999999999w"] {
            assert!(super::parse_duration_secs(bad).is_err(), "{bad:?}");
        }
    }
}
