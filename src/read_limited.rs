//! Reading a file a run or job names, never more than a limit: its size is checked
//! first, and the read itself stops one byte past the limit, so a FIFO, a device or a
//! procfs file (whose size says 0) cannot grow memory without bound.

use std::io::Read as _;
use std::path::Path;

/// Why a file was not read whole.
#[derive(Debug)]
pub enum Refused {
    /// It could not be opened or read.
    Io(std::io::Error),
    /// It is larger than the limit: its size, or (for a stream) the limit plus one.
    TooLarge(u64),
}

/// The contents of `path`, at most `max` bytes.
pub fn read_at_most(path: &Path, max: u64) -> Result<Vec<u8>, Refused> {
    let file = std::fs::File::open(path).map_err(Refused::Io)?;
    let size = file.metadata().map_err(Refused::Io)?.len();
    if size > max {
        return Err(Refused::TooLarge(size));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(Refused::Io)?;
    match data.len() as u64 {
        n if n > max => Err(Refused::TooLarge(n)),
        _ => Ok(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_streams_stop_at_the_limit() {
        let dir = tempfile::tempdir().expect("tmp");
        let small = dir.path().join("small");
        std::fs::write(&small, b"12345").expect("write");
        assert_eq!(read_at_most(&small, 5).expect("read"), b"12345");
        assert!(matches!(read_at_most(&small, 4), Err(Refused::TooLarge(5))));
        // A device whose size says 0 and that never ends.
        assert!(matches!(
            read_at_most(Path::new("/dev/zero"), 1024),
            Err(Refused::TooLarge(1025))
        ));
        assert!(matches!(
            read_at_most(&dir.path().join("missing"), 1),
            Err(Refused::Io(_))
        ));
    }
}
