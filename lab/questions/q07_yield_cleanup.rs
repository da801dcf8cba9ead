//! Question 7: When does my yield dependency's cleanup run?.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 7 is not measured yet")
}
