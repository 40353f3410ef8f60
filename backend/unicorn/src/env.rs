//! Settings read from the environment (switches, choices, numbers, sizes). A value that is not understood is said in a log line and
//! the default kept: never silently taken for something else.
use crate::log::log_warn;

/// An on/off switch: unset or empty gives `default`; `1`, `on`, `true`, `yes` and `0`, `off`,
/// `false`, `no` (any case) say it; anything else is logged and gives `default`.
pub fn switch(name: &str, default: bool) -> bool {
    let Ok(v) = std::env::var(name) else { return default };
    match parse_switch(&v) {
        Some(b) => b.unwrap_or(default),
        None => {
            log_warn!("{name}={v:?} is not 1/on/true/yes or 0/off/false/no; ignored (default: {})", on_off(default));
            default
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// `Some(Some(b))`: a switch value; `Some(None)`: empty (the default); `None`: not understood.
fn parse_switch(v: &str) -> Option<Option<bool>> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" => Some(None),
        "1" | "on" | "true" | "yes" => Some(Some(true)),
        "0" | "off" | "false" | "no" => Some(Some(false)),
        _ => None,
    }
}

/// A value as it is (unset or empty: None).
pub fn text(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The cache folder (`UNICORN_CACHE`, default `~/.cache/unicorn`), as the scripts use it.
pub fn cache_dir() -> std::path::PathBuf {
    match (text("UNICORN_CACHE"), text("HOME")) {
        (Some(dir), _) => dir.into(),
        (None, Some(home)) => std::path::Path::new(&home).join(".cache/unicorn"),
        (None, None) => std::env::temp_dir().join("unicorn-cache"),
    }
}

/// One of `allowed` (unset or empty: None); another value is logged and gives None.
pub fn choice(name: &str, allowed: &[&'static str]) -> Option<&'static str> {
    let v = std::env::var(name).ok()?;
    parse_choice(&v, allowed).unwrap_or_else(|| {
        log_warn!("{name}={v:?} is not one of {}; ignored", allowed.join(", "));
        None
    })
}

/// `Some(choice)` when understood (`Some(None)`: empty), `None` when not.
fn parse_choice(v: &str, allowed: &[&'static str]) -> Option<Option<&'static str>> {
    let v = v.trim();
    if v.is_empty() {
        return Some(None);
    }
    allowed.iter().find(|a| a.eq_ignore_ascii_case(v)).map(|a| Some(*a))
}

/// A number (unset or empty: `default`); a value that does not parse is logged and gives
/// `default`.
pub fn number<T: std::str::FromStr + std::fmt::Display + Copy>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| {
            log_warn!("{name}={v:?} is not a number; ignored (default: {default})");
            default
        }),
        _ => default,
    }
}

/// A size in bytes (unset or empty: None); a value that is not one is logged, saying what is
/// used `instead`, and gives None.
pub fn size(name: &str, instead: &str) -> Option<usize> {
    let v = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
    let size = parse_size(&v);
    if size.is_none() {
        log_warn!("{name}={v:?} is not a size (e.g. 2G, 512M, bytes); ignored, using {instead}");
    }
    size
}

/// "2G", "1.5GiB", "512M", "4096K" or plain bytes.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((num * mult) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_say_on_off_or_nothing() {
        for v in ["1", "on", "TRUE", " yes "] {
            assert_eq!(parse_switch(v), Some(Some(true)), "{v}");
        }
        for v in ["0", "Off", "false", "no"] {
            assert_eq!(parse_switch(v), Some(Some(false)), "{v}");
        }
        assert_eq!(parse_switch(""), Some(None));
        for v in ["2", "enable", "0x1", "-1"] {
            assert_eq!(parse_switch(v), None, "{v} must not be taken for on or off");
        }
    }

    #[test]
    fn choices_are_exact_names() {
        let allowed = ["generic", "mma128"];
        assert_eq!(parse_choice("generic", &allowed), Some(Some("generic")));
        assert_eq!(parse_choice(" MMA128", &allowed), Some(Some("mma128")));
        assert_eq!(parse_choice("", &allowed), Some(None));
        assert_eq!(parse_choice("mma", &allowed), None);
        assert_eq!(parse_choice("generics", &allowed), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2X"), None);
        assert_eq!(parse_size("lots"), None);
    }
}
