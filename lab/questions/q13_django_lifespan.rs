//! Question 13: Where is Django's lifespan?.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 13 is not measured yet")
}
