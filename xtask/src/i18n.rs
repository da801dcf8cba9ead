//! The translations' gettext workflow, with mdbook-i18n-helpers and polib as
//! libraries (what `mdbook-xgettext` and `mdbook-gettext` do, without tools
//! to install):
//!
//! - `cargo xtask i18n extract` writes the English messages of the book's
//!   Markdown (SUMMARY.md, every chapter, the 404 page) to `po/messages.pot`.
//!   Messages are taken from the sources as written, before any preprocessor:
//!   an `{{#include}}` of a recorded figure or a listing stays a directive, so
//!   regenerating a figure never changes the catalog.
//! - `cargo xtask i18n update` extracts, then merges the messages into each
//!   translation (`po/ko.po`) as gettext's `msgmerge` would: a translation is
//!   kept while its English is unchanged; a new message starts untranslated;
//!   a changed one keeps the old translation of its closest former English,
//!   marked fuzzy (not shown until a translator confirms it).
//! - `cargo xtask i18n check` (also run by `cargo xtask test`): each
//!   translation is complete (no untranslated or fuzzy message), in step with
//!   the sources (no English message it lacks), every translated quiz has the
//!   English quiz's shape, and the glossary's terms are used ([`glossary`]).
//!
//! Leaves out: obsolete entries (`#~`; polib 0.2 cannot write them, so a
//! message that left the sources and matched nothing is dropped), and
//! plural forms (the book has none).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use polib::catalog::Catalog;
use polib::message::{Message, MessageMutView, MessageView};
use polib::metadata::CatalogMetadata;

use crate::step;

pub const POT: &str = "po/messages.pot";
/// The glossary: English term, tab, the translation's term (one per line).
pub const GLOSSARY: &str = "po/glossary.tsv";
/// Messages allowed to go without a glossary term (see [`glossary`]).
pub const GLOSSARY_EXCEPTIONS: &str = "po/glossary-exceptions.tsv";
/// The translations the book is built in, besides English (each `po/LANG.po`,
/// built into `book/LANG/`).
pub const LANGUAGES: &[&str] = &["ko"];
/// How many msgids a failure lists per kind of problem.
const SHOWN: usize = 5;
/// A changed message reuses the old translation of the former English most
/// like it when at least this alike (Dice coefficient of character pairs).
const FUZZY_MATCH: f64 = 0.6;

pub fn po_path(lang: &str) -> String {
    format!("po/{lang}.po")
}

/// The header fields polib 0.2 requires (it panics on a header without one).
const HEADER_FIELDS: &[&str] = &[
    "Project-Id-Version",
    "POT-Creation-Date",
    "PO-Revision-Date",
    "Language-Team",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Language",
    "Plural-Forms",
];

/// Reads a PO file. A header lacking a field (other tools write fewer than
/// polib expects) gets the field, empty, instead of a panic.
pub fn read_po(path: &Path) -> anyhow::Result<Catalog> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let header = "msgid \"\"\nmsgstr \"\"\n";
    let mut patched = text.clone();
    if let Some(at) = text.find(header) {
        let end = text[at..].find("\n\n").map_or(text.len(), |e| at + e);
        let missing: String = HEADER_FIELDS
            .iter()
            .filter(|f| !text[at..end].contains(&format!("\"{f}:")))
            .map(|f| match *f {
                "Plural-Forms" => format!("\"{f}: nplurals=1; plural=0;\\n\"\n"),
                _ => format!("\"{f}: \\n\"\n"),
            })
            .collect();
        patched.insert_str(at + header.len(), &missing);
    }
    let tmp = crate::target_dir().join(format!("xtask-po-{}.po", std::process::id()));
    std::fs::create_dir_all(crate::target_dir())?;
    std::fs::write(&tmp, patched)?;
    let parsed = polib::po_file::parse(&tmp);
    let _ = std::fs::remove_file(&tmp);
    parsed.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The book's English messages as the sources stand now.
pub fn extracted() -> anyhow::Result<Catalog> {
    let md = mdbook_driver::MDBook::load(Path::new(".")).context("loading book.toml")?;
    let ctx = mdbook_renderer::RenderContext::new(
        md.root.clone(),
        md.book.clone(),
        md.config.clone(),
        md.root.join("book/xgettext"),
    );
    let catalogs = mdbook_i18n_helpers::xgettext::create_catalogs(&ctx, std::fs::read_to_string)?;
    let (_, mut catalog) = catalogs
        .into_iter()
        .next()
        .context("no catalog extracted")?;
    // The 404 page is not in SUMMARY.md, so not in the book mdBook loads:
    // extract it as create_catalogs extracts a chapter.
    let page_404 = page_404_path(&md.config);
    let text = std::fs::read_to_string(&page_404)
        .with_context(|| format!("reading {}", page_404.display()))?;
    for (line, extracted) in mdbook_i18n_helpers::extract_messages(&text)? {
        let source = format!("{}:{line}", page_404.display());
        let msgid = extracted.message;
        let sources = match catalog.find_message(None, &msgid, None) {
            Some(m) => format!("{}\n{source}", m.source()),
            None => source,
        };
        catalog.append_or_update(
            Message::build_singular()
                .with_source(sources)
                .with_msgid(msgid)
                .done(),
        );
    }
    // The charts' labels, msgctxt "chart" (xtask/src/charts_ko.rs).
    crate::charts_ko::add_chart_messages(&mut catalog)?;
    Ok(catalog)
}

/// A message's msgctxt as `find_message` takes it (`None` when it has none:
/// the book's Markdown; the charts' labels have "chart").
fn context(m: &dyn MessageView) -> Option<&str> {
    Some(m.msgctxt()).filter(|c| !c.is_empty())
}

/// What identifies a message in a catalog: its msgctxt and msgid.
fn key(m: &dyn MessageView) -> (Option<&str>, &str) {
    (context(m), m.msgid())
}

/// `src/404.md`, or the page book.toml names in `output.html.input-404`.
pub fn page_404_path(config: &mdbook_driver::config::Config) -> std::path::PathBuf {
    let name = config
        .get::<String>("output.html.input-404")
        .ok()
        .flatten()
        .unwrap_or_else(|| "404.md".into());
    config.book.src.join(name)
}

/// Writes `po/messages.pot` from the book's sources.
pub fn extract() -> anyhow::Result<()> {
    step("extracting the book's messages");
    let catalog = extracted()?;
    std::fs::create_dir_all("po")?;
    polib::po_file::write(&catalog, Path::new(POT)).context("writing po/messages.pot")?;
    println!("{} messages in {POT}", catalog.count());
    Ok(())
}

/// Extracts, then merges the messages into every translation.
pub fn update() -> anyhow::Result<()> {
    extract()?;
    let pot = read_po(Path::new(POT))?;
    for lang in LANGUAGES {
        let path = po_path(lang);
        step(&format!("merging {POT} into {path}"));
        let old = if Path::new(&path).exists() {
            read_po(Path::new(&path))?
        } else {
            let mut metadata = CatalogMetadata::new();
            metadata.language = (*lang).to_string();
            Catalog::new(metadata)
        };
        let (merged, stats) = merge(&pot, &old, lang);
        polib::po_file::write(&merged, Path::new(&path))
            .with_context(|| format!("writing {path}"))?;
        println!(
            "{path}: {} kept, {} fuzzy (English changed: check them), {} new untranslated, {} dropped",
            stats.kept, stats.fuzzy, stats.new, stats.dropped
        );
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq)]
pub struct MergeStats {
    pub kept: usize,
    pub fuzzy: usize,
    pub new: usize,
    pub dropped: usize,
}

/// `msgmerge` in miniature: the messages of `pot` (in its order, with its
/// sources), each with `old`'s translation of the same msgid; failing that,
/// with the translation of the most alike former msgid no longer in `pot`,
/// marked fuzzy; failing that, untranslated.
pub fn merge(pot: &Catalog, old: &Catalog, lang: &str) -> (Catalog, MergeStats) {
    let mut stats = MergeStats::default();
    let current: HashSet<(Option<&str>, &str)> = pot.messages().map(key).collect();
    // Former translations whose English is gone: candidates for fuzzy reuse.
    let mut former: Vec<(&str, &str)> = old
        .messages()
        .filter(|m| !current.contains(&key(*m)) && m.is_translated())
        .map(|m| (m.msgid(), m.msgstr().unwrap_or("")))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    let mut metadata = CatalogMetadata::new();
    metadata.project_id_version = pot.metadata.project_id_version.clone();
    metadata.pot_creation_date = pot.metadata.pot_creation_date.clone();
    metadata.po_revision_date = old.metadata.po_revision_date.clone();
    metadata.last_translator = old.metadata.last_translator.clone();
    metadata.language_team = old.metadata.language_team.clone();
    metadata.mime_version = "1.0".into();
    metadata.content_type = "text/plain; charset=UTF-8".into();
    metadata.content_transfer_encoding = "8bit".into();
    metadata.language = lang.to_string();
    metadata.plural_rules.nplurals = 1;
    metadata.plural_rules.expr = "0".into();
    let mut merged = Catalog::new(metadata);
    for m in pot.messages() {
        let mut message = Message::build_singular()
            .with_msgctxt(m.msgctxt().to_string())
            .with_msgid(m.msgid().to_string())
            .with_source(m.source().to_string())
            .with_comments(m.comments().to_string())
            .done();
        if let Some(prev) = old.find_message(context(m), m.msgid(), None) {
            message
                .set_msgstr(prev.msgstr().unwrap_or("").to_string())
                .ok();
            if prev.is_fuzzy() {
                message.flags_mut().add_flag("fuzzy");
            }
            stats.kept += 1;
        } else if let Some(best) = most_alike(m.msgid(), &former) {
            let (_, msgstr) = former.swap_remove(best);
            message.set_msgstr(msgstr.to_string()).ok();
            message.flags_mut().add_flag("fuzzy");
            stats.fuzzy += 1;
        } else {
            stats.new += 1;
        }
        merged.append_or_update(message);
    }
    stats.dropped = former.len();
    (merged, stats)
}

/// The index of the entry in `former` whose msgid is most like `msgid`, if
/// any is at least [`FUZZY_MATCH`] alike.
fn most_alike(msgid: &str, former: &[(&str, &str)]) -> Option<usize> {
    let pairs = char_pairs(msgid);
    former
        .iter()
        .enumerate()
        .map(|(i, (old, _))| (i, dice(&pairs, &char_pairs(old))))
        .filter(|&(_, score)| score >= FUZZY_MATCH)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

fn char_pairs(text: &str) -> HashMap<(char, char), usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut pairs = HashMap::new();
    for w in chars.windows(2) {
        *pairs.entry((w[0], w[1])).or_insert(0) += 1;
    }
    pairs
}

fn dice(a: &HashMap<(char, char), usize>, b: &HashMap<(char, char), usize>) -> f64 {
    let (na, nb): (usize, usize) = (a.values().sum(), b.values().sum());
    if na + nb == 0 {
        return 0.0;
    }
    let shared: usize = a
        .iter()
        .map(|(k, n)| (*n).min(b.get(k).copied().unwrap_or(0)))
        .sum();
    2.0 * shared as f64 / (na + nb) as f64
}

/// The translation for building `lang`: `po/LANG.po` with the SUMMARY
/// titles also stripped of formatting, as mdBook hands them to the book.
pub fn catalog_for_build(lang: &str) -> anyhow::Result<Catalog> {
    let path = po_path(lang);
    let mut catalog = read_po(Path::new(&path))?;
    mdbook_i18n_helpers::gettext::add_stripped_summary_translations(&mut catalog);
    Ok(catalog)
}

/// Every check of every translation; fails listing what is wrong.
pub fn check() -> anyhow::Result<()> {
    step("checking the translations (complete, in step, quizzes, glossary)");
    let english = extracted()?;
    let glossary_terms = glossary::load(Path::new(GLOSSARY))?;
    let exceptions = glossary::load_exceptions(Path::new(GLOSSARY_EXCEPTIONS))?;
    let mut failures = Vec::new();
    for lang in LANGUAGES {
        let path = po_path(lang);
        let po = read_po(Path::new(&path))?;
        failures.extend(in_step(&english, &po, &path));
        failures.extend(quizzes_match(&po, &path));
        failures.extend(glossary::violations(
            &po,
            &glossary_terms,
            &exceptions,
            &path,
        ));
        if failures.is_empty() {
            println!(
                "{path}: {} messages, all translated, in step with the sources, quizzes match, glossary used",
                po.count()
            );
        }
    }
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// A msgid for a failure message: its first line, shortened.
pub fn short(msgid: &str) -> String {
    let line = msgid.lines().next().unwrap_or("");
    let mut s: String = line.chars().take(70).collect();
    if s.len() < line.len() || msgid.lines().nth(1).is_some() {
        s.push('…');
    }
    format!("{s:?}")
}

fn listed(what: String, msgids: &[&str]) -> String {
    let mut out = what;
    for m in msgids.iter().take(SHOWN) {
        out.push_str(&format!("\n    {}", short(m)));
    }
    if msgids.len() > SHOWN {
        out.push_str(&format!("\n    … and {} more", msgids.len() - SHOWN));
    }
    out
}

/// Complete and in step: every English message of the sources is in `po`,
/// translated and not fuzzy, and `po` holds nothing the sources lost.
pub fn in_step(english: &Catalog, po: &Catalog, path: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let missing: Vec<&str> = english
        .messages()
        .filter(|m| po.find_message(context(*m), m.msgid(), None).is_none())
        .map(|m| m.msgid())
        .collect();
    let current: HashSet<(Option<&str>, &str)> = english.messages().map(key).collect();
    let gone: Vec<&str> = po
        .messages()
        .filter(|m| !current.contains(&key(*m)))
        .map(|m| m.msgid())
        .collect();
    let untranslated: Vec<&str> = po
        .messages()
        .filter(|m| current.contains(&key(*m)))
        .filter(|m| !m.is_translated() || m.msgstr().is_ok_and(|s| s.trim().is_empty()))
        .map(|m| m.msgid())
        .collect();
    let fuzzy: Vec<&str> = po
        .messages()
        .filter(|m| current.contains(&key(*m)) && m.is_fuzzy())
        .map(|m| m.msgid())
        .collect();
    let total = english.count();
    if !missing.is_empty() {
        failures.push(listed(
            format!(
                "{path} is stale: {} of the sources' {total} English messages are not in it \
                 (run `cargo xtask i18n update`, then translate them):",
                missing.len()
            ),
            &missing,
        ));
    }
    if !gone.is_empty() {
        failures.push(listed(
            format!(
                "{path} has {} messages the sources no longer have (run `cargo xtask i18n update`):",
                gone.len()
            ),
            &gone,
        ));
    }
    if !untranslated.is_empty() {
        failures.push(listed(
            format!(
                "{path}: {} of {total} messages untranslated:",
                untranslated.len()
            ),
            &untranslated,
        ));
    }
    if !fuzzy.is_empty() {
        failures.push(listed(
            format!(
                "{path}: {} fuzzy messages (their English changed: check the translation, then remove the fuzzy flag):",
                fuzzy.len()
            ),
            &fuzzy,
        ));
    }
    failures
}

/// Every translated ```quiz block parses whole and has the English block's
/// questions, choices per question and right answers, by position.
pub fn quizzes_match(po: &Catalog, path: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for m in po.messages() {
        let msgstr = m.msgstr().unwrap_or("");
        if !m.msgid().starts_with("```quiz") || msgstr.trim().is_empty() {
            continue;
        }
        // Name the block by where it is: its msgid starts the same for every quiz.
        let quiz = format!("at {}", m.source().split_whitespace().next().unwrap_or("?"));
        let english = match crate::quiz::answer_keys(m.msgid()) {
            Ok(k) => k,
            Err(e) => {
                failures.push(format!("{path}: English quiz {quiz} does not parse: {e:#}"));
                continue;
            }
        };
        let problems = crate::quiz::problems(msgstr);
        let translated = if problems.is_empty() {
            crate::quiz::answer_keys(msgstr)
        } else {
            Err(anyhow::anyhow!(
                "{}",
                problems
                    .iter()
                    .map(|(line, what)| format!("line {line}: {what}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        };
        match translated {
            Err(e) => failures.push(format!(
                "{path}: the translation of the quiz {quiz} does not parse: {e:#}"
            )),
            Ok(keys) if keys != english => failures.push(format!(
                "{path}: the translation of the quiz {quiz} differs from the English in its \
                 questions, choices or right answers: English {}, translation {}",
                shape(&english),
                shape(&keys)
            )),
            Ok(_) => {}
        }
    }
    failures
}

/// A quiz's answer key, readable: `[q1: ✓✗✗, q2: ✗✓]`.
fn shape(keys: &[Vec<Vec<bool>>]) -> String {
    let blocks: Vec<String> = keys
        .iter()
        .map(|block| {
            let qs: Vec<String> = block
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let marks: String = q.iter().map(|&c| if c { '✓' } else { '✗' }).collect();
                    format!("q{}: {marks}", i + 1)
                })
                .collect();
            format!("[{}]", qs.join(", "))
        })
        .collect();
    blocks.join(" ")
}

/// The glossary check. Rules, decided once:
///
/// - A message is checked when it is translated and not fuzzy; code blocks
///   are skipped except ```quiz blocks (their prose is translated), and so
///   is a message translated as itself (a name, a string or comment taken
///   from a code block).
/// - In the English, inline code, link targets, HTML tags, `{{#…}}`
///   directives and URLs are ignored: a term there is a name, not prose.
/// - A term matches case-insensitively at word boundaries (a letter, digit
///   or hyphen may not touch it on either side: a hyphenated compound is
///   another word, `actix-server`, `wait-bound`, `40-thread pool`), also in
///   the plural (`+s`, `+es`, `y` → `ies`) and possessive.
/// - Longer terms win: where "thread pool" matches, "thread" and "pool"
///   inside it are not checked again ("CPU-bound" hides "bound").
/// - The translation must contain the term's decided translation,
///   ignoring case and spaces (Korean spacing of compounds varies: 지연 시간
///   and 지연시간 are the same term).
/// - A message whose English uses a term in another sense ("to process a
///   request", "an upper bound") is listed in `po/glossary-exceptions.tsv`
///   with the term and why; an exception that is no longer needed fails
///   the check too, so the list stays short and true.
pub mod glossary {
    use std::path::Path;

    use anyhow::Context;
    use polib::catalog::Catalog;
    use regex::Regex;
    use sha2::{Digest, Sha256};

    pub struct Term {
        pub english: String,
        pub translated: String,
        pattern: Regex,
    }

    /// One allowed miss: the message (by [`key`]) and the term.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct Exception {
        pub key: String,
        pub term: String,
    }

    /// A message's short, stable name: the first 10 hex digits of the
    /// SHA-256 of its msgid.
    pub fn key(msgid: &str) -> String {
        let digest = Sha256::digest(msgid.as_bytes());
        digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
    }

    fn term_pattern(english: &str) -> Regex {
        let escaped = regex::escape(english)
            .replace("\\ ", r"\s+")
            .replace(' ', r"\s+");
        let plural = match english.strip_suffix('y') {
            Some(stem) => format!(
                r"(?:{escaped}|{}ies)",
                regex::escape(stem).replace(' ', r"\s+")
            ),
            None => format!(r"{escaped}(?:e?s)?"),
        };
        Regex::new(&format!(
            r"(?i)(?:^|[^\p{{L}}\p{{N}}-]){plural}(?:[^\p{{L}}\p{{N}}-]|$)"
        ))
        .expect("a glossary term makes a valid pattern")
    }

    pub fn parse(tsv: &str) -> anyhow::Result<Vec<Term>> {
        let mut terms = Vec::new();
        for (n, line) in tsv.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (english, translated) = line
                .split_once('\t')
                .with_context(|| format!("glossary line {}: no tab in {line:?}", n + 1))?;
            terms.push(Term {
                english: english.trim().to_string(),
                translated: translated.trim().to_string(),
                pattern: term_pattern(english.trim()),
            });
        }
        // Longer terms first, so they claim their words before shorter ones.
        terms.sort_by_key(|t| std::cmp::Reverse(t.english.len()));
        Ok(terms)
    }

    pub fn load(path: &Path) -> anyhow::Result<Vec<Term>> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        parse(&text)
    }

    /// `po/glossary-exceptions.tsv`: key, tab, term, tab, why (a missing
    /// file is an empty list).
    pub fn load_exceptions(path: &Path) -> anyhow::Result<Vec<Exception>> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(Vec::new());
        };
        let mut list = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(key), Some(term)) = (cols.next(), cols.next()) else {
                anyhow::bail!(
                    "{}:{}: expected key<TAB>term<TAB>why",
                    path.display(),
                    n + 1
                );
            };
            list.push(Exception {
                key: key.trim().to_string(),
                term: term.trim().to_string(),
            });
        }
        Ok(list)
    }

    /// The English with names and markup blanked out (see the rules above).
    fn prose(english: &str) -> String {
        static STRIP: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let strip = STRIP.get_or_init(|| {
            Regex::new(r"(?s)`[^`]*`|\]\([^)]*\)|<[^>]*>|\{\{#[^}]*\}\}|https?://\S+")
                .expect("valid pattern")
        });
        strip.replace_all(english, " ").into_owned()
    }

    fn squeezed(text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    }

    /// The terms `english` uses, longest first, each once.
    pub fn terms_used<'t>(english: &str, terms: &'t [Term]) -> Vec<&'t Term> {
        let mut text = prose(english);
        let mut used = Vec::new();
        for term in terms {
            let mut hit = false;
            while let Some(m) = term.pattern.find(&text) {
                hit = true;
                let blank = " ".repeat(m.as_str().len());
                text.replace_range(m.range(), &blank);
            }
            if hit {
                used.push(term);
            }
        }
        used
    }

    /// Every (message, term) pair where the translation lacks the term's
    /// decided translation, less the exceptions; plus unneeded exceptions.
    pub fn violations(
        po: &Catalog,
        terms: &[Term],
        exceptions: &[Exception],
        path: &str,
    ) -> Vec<String> {
        let mut misses = Vec::new();
        let mut used_exceptions = std::collections::HashSet::new();
        for m in po.messages() {
            let msgstr = m.msgstr().unwrap_or("");
            let code = m.msgid().starts_with("```") || m.msgid().starts_with("~~~");
            if m.is_fuzzy()
                || msgstr.trim().is_empty()
                || msgstr == m.msgid()
                || (code && !m.msgid().starts_with("```quiz"))
            {
                continue;
            }
            let translated = squeezed(msgstr);
            for term in terms_used(m.msgid(), terms) {
                if translated.contains(&squeezed(&term.translated)) {
                    continue;
                }
                let exception = Exception {
                    key: key(m.msgid()),
                    term: term.english.clone(),
                };
                if exceptions.contains(&exception) {
                    used_exceptions.insert(exception);
                    continue;
                }
                misses.push(format!(
                    "    {}\t{}\t(English: {}, expected {:?})",
                    exception.key,
                    term.english,
                    super::short(m.msgid()),
                    term.translated
                ));
            }
        }
        let mut failures = Vec::new();
        if !misses.is_empty() {
            failures.push(format!(
                "{path}: {} glossary terms not used (key, term; use the term, or if the English \
                 means something else there, add the line with a reason to {}):\n{}",
                misses.len(),
                super::GLOSSARY_EXCEPTIONS,
                misses.join("\n")
            ));
        }
        let unneeded: Vec<String> = exceptions
            .iter()
            .filter(|e| !used_exceptions.contains(*e))
            .map(|e| format!("    {}\t{}", e.key, e.term))
            .collect();
        if !unneeded.is_empty() {
            failures.push(format!(
                "{}: {} exceptions no longer needed (remove them):\n{}",
                super::GLOSSARY_EXCEPTIONS,
                unneeded.len(),
                unneeded.join("\n")
            ));
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(entries: &[(&str, &str, bool)]) -> Catalog {
        let mut c = Catalog::new(CatalogMetadata::new());
        for (id, s, fuzzy) in entries {
            let mut m = Message::build_singular()
                .with_msgid(id.to_string())
                .with_msgstr(s.to_string())
                .done();
            if *fuzzy {
                m.flags_mut().add_flag("fuzzy");
            }
            c.append_or_update(m);
        }
        c
    }

    #[test]
    fn merge_keeps_unchanged_marks_changed_fuzzy_and_adds_new_untranslated() {
        let pot = catalog(&[
            ("The event loop waits.", "", false),
            ("A thread per request, one at a time.", "", false),
            ("Brand new paragraph.", "", false),
        ]);
        let old = catalog(&[
            ("The event loop waits.", "이벤트 루프가 기다립니다.", false),
            ("A thread per request.", "요청마다 스레드 하나.", false),
            ("Removed long ago, nothing like the rest.", "삭제됨", false),
        ]);
        let (merged, stats) = merge(&pot, &old, "ko");
        assert_eq!(
            stats,
            MergeStats {
                kept: 1,
                fuzzy: 1,
                new: 1,
                dropped: 1
            }
        );
        let got: Vec<(&str, &str, bool)> = merged
            .messages()
            .map(|m| (m.msgid(), m.msgstr().unwrap(), m.is_fuzzy()))
            .collect();
        assert_eq!(
            got,
            [
                ("The event loop waits.", "이벤트 루프가 기다립니다.", false),
                (
                    "A thread per request, one at a time.",
                    "요청마다 스레드 하나.",
                    true
                ),
                ("Brand new paragraph.", "", false),
            ]
        );
        assert_eq!(merged.metadata.language, "ko");
    }

    #[test]
    fn in_step_names_missing_untranslated_fuzzy_and_gone_messages() {
        let english = catalog(&[("a", "", false), ("b", "", false), ("c", "", false)]);
        let po = catalog(&[("a", "가", false), ("b", "", false), ("z", "지", false)]);
        let failures = in_step(&english, &po, "po/ko.po").join("\n");
        assert!(
            failures.contains("stale: 1 of the sources' 3"),
            "{failures}"
        );
        assert!(failures.contains("\"c\""), "{failures}");
        assert!(
            failures.contains("1 messages the sources no longer have"),
            "{failures}"
        );
        assert!(
            failures.contains("1 of 3 messages untranslated"),
            "{failures}"
        );
        let fuzzy = catalog(&[("a", "가", true), ("b", "나", false), ("c", "다", false)]);
        let failures = in_step(&english, &fuzzy, "po/ko.po").join("\n");
        assert!(failures.contains("1 fuzzy messages"), "{failures}");
        let good = catalog(&[("a", "가", false), ("b", "나", false), ("c", "다", false)]);
        assert!(in_step(&english, &good, "po/ko.po").is_empty());
    }

    const QUIZ: &str = "```quiz\n[[question]]\nprompt = \"P\"\n[[question.choice]]\ntext = \"A\"\ncorrect = true\nwhy = \"W\"\n[[question.choice]]\ntext = \"B\"\nwhy = \"W\"\n```";

    #[test]
    fn a_translated_quiz_must_keep_its_shape_and_answers() {
        let same = QUIZ.replace("\"P\"", "\"프\"");
        assert!(quizzes_match(&catalog(&[(QUIZ, &same, false)]), "ko").is_empty());
        let moved = same
            .replace("correct = true\n", "")
            .replace("text = \"B\"\n", "text = \"B\"\ncorrect = true\n");
        let f = quizzes_match(&catalog(&[(QUIZ, &moved, false)]), "ko").join("\n");
        assert!(f.contains("q1: ✓✗") && f.contains("q1: ✗✓"), "{f}");
        let broken = same.replace("prompt = \"프\"", "prompt = \"프");
        let f = quizzes_match(&catalog(&[(QUIZ, &broken, false)]), "ko").join("\n");
        assert!(f.contains("does not parse"), "{f}");
    }

    #[test]
    fn glossary_terms_match_whole_words_longest_first() {
        let terms = glossary::parse(
            "thread\t스레드\nthread pool\t스레드 풀\nbound\t상한\nCPU-bound\tCPU 바운드\ndependency\t의존성\nlatency\t지연 시간\n",
        )
        .unwrap();
        let used = |s: &str| -> Vec<String> {
            glossary::terms_used(s, &terms)
                .iter()
                .map(|t| t.english.clone())
                .collect()
        };
        assert_eq!(used("A thread pool of threads"), ["thread pool", "thread"]);
        assert_eq!(used("CPU-bound work"), ["CPU-bound"]);
        assert!(used("actix-server, wait-bound, a 40-thread pool").is_empty());
        assert_eq!(used("the bound; unbounded; boundary"), ["bound"]);
        assert_eq!(used("FastAPI dependencies"), ["dependency"]);
        assert!(used("`thread::spawn` and [x](thread.md) <thread>").is_empty());
        let po = catalog(&[
            ("Latency and threads.", "지연시간과 스레드.", false),
            ("The thread pool.", "풀.", false),
        ]);
        let f = glossary::violations(&po, &terms, &[], "ko").join("\n");
        assert!(!f.contains("Latency"), "spacing is ignored: {f}");
        assert!(
            f.contains("thread pool") && f.contains(&glossary::key("The thread pool.")),
            "{f}"
        );
        let exception = glossary::Exception {
            key: glossary::key("The thread pool."),
            term: "thread pool".into(),
        };
        assert!(
            glossary::violations(&po, &terms, std::slice::from_ref(&exception), "ko").is_empty()
        );
        let unneeded = glossary::Exception {
            key: "0000000000".into(),
            term: "thread".into(),
        };
        let f = glossary::violations(&po, &terms, &[exception, unneeded], "ko").join("\n");
        assert!(f.contains("no longer needed"), "{f}");
    }
}
