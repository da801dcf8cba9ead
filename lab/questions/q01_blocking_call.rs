//! Question 1: One blocking call and the whole server freezes.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 1 is not measured yet")
}
