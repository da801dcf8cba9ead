//! Question 15: gunicorn --timeout, --preload, --max-requests.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 15 is not measured yet")
}
