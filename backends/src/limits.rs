//! How much memory a command may allocate, checked before it starts, so that an absurd shape
//! or config is refused with a message instead of aborting the process mid-run.
//!
//! The limit is 80 % of the memory the OS says is available (`MemAvailable` in
//! `/proc/meminfo`; 8 GiB where that cannot be read), or what `KERNELS_MAX_MEMORY` says
//! (`512M`, `16G`, `1T` or plain bytes), which a tool's `--max-memory` flag may set too.

use std::sync::OnceLock;

/// The environment variable that overrides the limit.
pub const ENV: &str = "KERNELS_MAX_MEMORY";

/// Why a planned allocation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The element count times the element size does not fit in a `usize`.
    #[error("{what}: {count} elements of {size} bytes overflow the address space")]
    Overflow {
        what: String,
        count: u128,
        size: usize,
    },
    /// The allocation fits the address space but not the limit.
    #[error(
        "{what} needs {} but the memory limit is {} ({source_of_limit}); pass --max-memory SIZE or set KERNELS_MAX_MEMORY to change it",
        fmt_bytes(*bytes),
        fmt_bytes(*limit)
    )]
    TooLarge {
        what: String,
        bytes: u128,
        limit: u128,
        source_of_limit: String,
    },
    /// `KERNELS_MAX_MEMORY` (or `--max-memory`) does not parse.
    #[error("memory limit `{value}` is not a size (use e.g. 512M, 16G or a number of bytes)")]
    BadSetting { value: String },
}

/// The limit in bytes and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u128,
    pub from_env: bool,
}

static LIMIT: OnceLock<Result<Limit, LimitError>> = OnceLock::new();

/// Sets the limit from a tool's `--max-memory` value; it must come before the first check.
/// Returns an error when `text` is not a size or the limit was already read.
pub fn set(text: &str) -> Result<(), LimitError> {
    let bytes = parse_size(text).ok_or_else(|| LimitError::BadSetting {
        value: text.to_string(),
    })?;
    LIMIT
        .set(Ok(Limit {
            bytes,
            from_env: true,
        }))
        .map_err(|_| LimitError::BadSetting {
            value: format!("{text} (set after the limit was first read)"),
        })
}

/// The limit in force for this process (read once).
pub fn limit() -> Result<Limit, LimitError> {
    LIMIT
        .get_or_init(|| match std::env::var(ENV) {
            Ok(v) => parse_size(&v)
                .map(|bytes| Limit {
                    bytes,
                    from_env: true,
                })
                .ok_or(LimitError::BadSetting { value: v }),
            Err(_) => Ok(Limit {
                bytes: available_memory().unwrap_or(8 << 30) / 10 * 8,
                from_env: false,
            }),
        })
        .clone()
}

/// Checks that `count` items of `size` bytes each (all the buffers a command will hold at
/// once) fit in the limit; `what` names them in the error ("matmul 9x9x9 problem").
pub fn check(what: &str, count: u128, size: usize) -> Result<(), LimitError> {
    let bytes = count
        .checked_mul(size as u128)
        .filter(|b| *b <= usize::MAX as u128)
        .ok_or_else(|| LimitError::Overflow {
            what: what.to_string(),
            count,
            size,
        })?;
    let limit = limit()?;
    if bytes > limit.bytes {
        return Err(LimitError::TooLarge {
            what: what.to_string(),
            bytes,
            limit: limit.bytes,
            source_of_limit: if limit.from_env {
                "set by KERNELS_MAX_MEMORY or --max-memory".to_string()
            } else {
                "80 % of available memory".to_string()
            },
        });
    }
    Ok(())
}

/// Checks `size` bytes of f32 storage for the given element counts, summed with overflow
/// checks: the common case of "these buffers at once".
pub fn check_f32(what: &str, counts: &[u128]) -> Result<(), LimitError> {
    let total = counts
        .iter()
        .try_fold(0u128, |acc, c| acc.checked_add(*c))
        .unwrap_or(u128::MAX);
    check(what, total, std::mem::size_of::<f32>())
}

/// Parses `512M`, `16G`, `1.5T`, `4096` (bytes; binary multiples).
pub fn parse_size(text: &str) -> Option<u128> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => {
            let m: u128 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'B' => 1,
                _ => return None,
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let x: f64 = num.trim().parse().ok()?;
    (x.is_finite() && x >= 0.0).then_some((x * mult as f64) as u128)
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes in binary units with one decimal: `1.5 GiB`.
pub fn fmt_bytes(b: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("16g"), Some(16 << 30));
        assert_eq!(parse_size("1.5K"), Some(1536));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("-1G"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn overflow_and_limit_are_errors() {
        assert!(matches!(
            check("huge", u128::MAX, 4),
            Err(LimitError::Overflow { .. })
        ));
        assert!(matches!(
            check("absurd", 1 << 60, 4),
            Err(LimitError::Overflow { .. }) | Err(LimitError::TooLarge { .. })
        ));
        let e = check_f32("4e16 bytes", &[10_000_000_000_000_000]).unwrap_err();
        assert!(e.to_string().contains("4e16 bytes"), "{e}");
        assert!(check_f32("small", &[1024, 1024]).is_ok());
    }

    #[test]
    fn bytes_format() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(1 << 40), "1.0 TiB");
    }
}
