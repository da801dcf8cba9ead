//! The open-file limit, raised with `rlimit`: every connection is a file
//! descriptor, and the chapters hold 10,000 of them.
//!
//! Left out: other limits (threads, memory).

/// Raises this process's open-file limit (each connection is a file
/// descriptor): to 65,536 if allowed (root may raise the hard limit), else to
/// the hard limit. Returns the new soft limit, or why it could not.
pub fn raise_fd_limit() -> Result<u64, String> {
    use rlimit::Resource;
    const WANTED: u64 = 65_536;
    let (_, hard) = Resource::NOFILE.get().map_err(|e| e.to_string())?;
    if hard < WANTED && Resource::NOFILE.set(WANTED, WANTED).is_ok() {
        return Ok(WANTED);
    }
    Resource::NOFILE
        .set(hard, hard)
        .map_err(|e| e.to_string())?;
    Ok(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_raised_to_at_least_the_usual_default() {
        assert!(raise_fd_limit().unwrap() >= 1024);
    }
}
