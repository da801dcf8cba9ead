//! The instants of a run: the distinct times at which its log has events, in
//! order. They are the steps of the page's time cursor ("next frame" is the next
//! instant at which anything happens), kept instead of the log itself: several
//! events share an instant (a request arrives, is bound and starts running at
//! once), so this is a few words a request where the log is eleven 16-byte entries.
//!
//! Leaves out: what happened at each instant (that is the log's job).

use crate::event::EventKind;
use crate::observe::Observer;

/// Distinct event times, ascending, µs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instants(Vec<u64>);

impl Instants {
    pub(crate) fn with_capacity(n: usize) -> Instants {
        Instants(Vec::with_capacity(n))
    }

    /// Done recording: give back the room reserved and not used.
    pub(crate) fn finish(mut self) -> Instants {
        self.0.shrink_to_fit();
        self
    }

    /// The instants of a stored log.
    pub fn from_times(times: impl IntoIterator<Item = u64>) -> Instants {
        let mut instants = Instants::default();
        for t in times {
            instants.push(t);
        }
        instants
    }

    #[inline(always)]
    fn push(&mut self, t: u64) {
        if self.0.last() != Some(&t) {
            self.0.push(t);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn last(&self) -> Option<u64> {
        self.0.last().copied()
    }

    /// The first instant after `t`.
    pub fn after(&self, t: u64) -> Option<u64> {
        self.0.get(self.0.partition_point(|&i| i <= t)).copied()
    }

    /// The last instant before `t`.
    pub fn before(&self, t: u64) -> Option<u64> {
        let i = self.0.partition_point(|&i| i < t);
        i.checked_sub(1).map(|i| self.0[i])
    }
}

/// Fed the events in log order (times never go back), it keeps each new time.
impl Observer for Instants {
    #[inline(always)]
    fn record(&mut self, t: u64, _kind: EventKind) {
        self.push(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_go_to_the_neighbouring_instants() {
        let instants = Instants::from_times([0, 0, 5, 5, 5, 9]);
        assert_eq!(instants, Instants(vec![0, 5, 9]));
        assert_eq!(instants.after(0), Some(5));
        assert_eq!(instants.after(6), Some(9));
        assert_eq!(instants.after(9), None);
        assert_eq!(instants.before(5), Some(0));
        assert_eq!(instants.before(0), None);
        assert_eq!(instants.before(100), Some(9));
    }
}
