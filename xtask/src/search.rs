//! Search in a translation. mdBook indexes every edition with elasticlunr's
//! English pipeline, whose first step trims every character outside
//! `[0-9a-z_]` from both ends of a word: a Korean word is trimmed to nothing
//! and never indexed. This rebuilds a translated edition's index from the
//! documents mdBook stored in it (every section's title, text and
//! breadcrumbs, split by heading as mdBook splits them) with a pipeline that
//! keeps letters and digits of every script: trim what is not a letter, digit
//! or `_` from the ends (`trimmer-ww`), drop English stop words, stem words
//! in ASCII as English and leave the rest as written (`stemmer-ww`).
//! theme/i18n.js registers the same two functions so the reader's query goes
//! through the same steps. Korean words are separated by spaces; a particle
//! stays on its word (이벤트 루프는), and mdBook's search expands a query
//! word as a prefix, so 루프 finds 루프는.
//!
//! Leaves out: splitting particles off Korean words (a morphological
//! analyser), and the English edition (its index stays mdBook's own).

use std::path::Path;

use anyhow::Context;
use elasticlunr::pipeline::{FnWrapper, Pipeline, PipelineFn};
use elasticlunr::{IndexBuilder, Language};

/// mdBook's limit: longer words are not indexed.
const MAX_WORD_LENGTH_TO_INDEX: usize = 80;

/// Words of any script, English words handled as mdBook handles them.
struct AnyScript;

impl Language for AnyScript {
    fn name(&self) -> String {
        "English".into() // elasticlunr.js reads no language from the index
    }

    fn code(&self) -> String {
        "en".into()
    }

    fn tokenize(&self, text: &str) -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || c == '-')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim().to_lowercase())
            .filter(|s| s.len() <= MAX_WORD_LENGTH_TO_INDEX)
            .collect()
    }

    fn make_pipeline(&self) -> Pipeline {
        let mut english = elasticlunr::lang::English::new().make_pipeline().queue;
        // English's queue: trimmer, stopWordFilter, stemmer.
        let stemmer = english.pop().expect("English pipeline has a stemmer");
        let stop_words = english
            .pop()
            .expect("English pipeline has a stop word filter");
        Pipeline {
            queue: vec![
                Box::new(FnWrapper("trimmer-ww".into(), trim)),
                stop_words,
                Box::new(AsciiStemmer(stemmer)),
            ],
        }
    }
}

/// Trims everything but letters, digits and `_` from both ends of a word.
fn trim(token: String) -> Option<String> {
    Some(
        token
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '_')
            .to_string(),
    )
}

/// English's stemmer for ASCII words; other words pass unchanged.
struct AsciiStemmer(Box<dyn PipelineFn>);

impl PipelineFn for AsciiStemmer {
    fn name(&self) -> String {
        "stemmer-ww".into()
    }

    fn filter(&self, token: String) -> Option<String> {
        if token.is_ascii() {
            self.0.filter(token)
        } else {
            Some(token)
        }
    }
}

/// Rebuilds the search index of the edition in `site` (its
/// `searchindex*.js`) with the any-script pipeline.
pub fn reindex(site: &Path) -> anyhow::Result<()> {
    let file = std::fs::read_dir(site)
        .with_context(|| format!("reading {}", site.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("searchindex") && n.ends_with(".js"))
        })
        .with_context(|| format!("no searchindex*.js in {}", site.display()))?;
    let script = std::fs::read_to_string(&file)?;
    let (json, prefix, suffix) = unwrap_script(&script)
        .with_context(|| format!("{} is not in mdBook's format", file.display()))?;
    let mut search: serde_json::Value = serde_json::from_str(&json)?;
    let docs = &search["index"]["documentStore"]["docs"];
    let count = search["doc_urls"].as_array().map_or(0, Vec::len);
    let mut index = IndexBuilder::with_language(Box::new(AnyScript))
        .add_fields(&["title", "body", "breadcrumbs"])
        .build();
    for doc_ref in 0..count {
        let key = doc_ref.to_string();
        let doc = &docs[&key];
        let field = |name: &str| doc[name].as_str().unwrap_or("").to_string();
        index.add_doc(&key, [field("title"), field("body"), field("breadcrumbs")]);
    }
    search["index"] = serde_json::to_value(&index)?;
    let json = serde_json::to_string(&search)?;
    let escaped = json.replace('\\', "\\\\").replace('\'', "\\'");
    std::fs::write(&file, format!("{prefix}{escaped}{suffix}"))?;
    Ok(())
}

/// mdBook's `window.search = Object.assign(window.search, JSON.parse('…'));`
/// → (the JSON, the text before it, the text after it).
fn unwrap_script(script: &str) -> Option<(String, &str, &str)> {
    let start = script.find("JSON.parse('")? + "JSON.parse('".len();
    let end = script.rfind("'));")?;
    let mut json = String::with_capacity(end - start);
    let mut chars = script[start..end].chars();
    // mdBook escaped `\` as `\\` and `'` as `\'`: undo both in one pass.
    while let Some(c) = chars.next() {
        if c == '\\' {
            json.push(chars.next()?);
        } else {
            json.push(c);
        }
    }
    Some((json, &script[..start], &script[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_words_are_indexed_and_english_ones_stemmed() {
        let pipeline = AnyScript.make_pipeline();
        let tokens = AnyScript.tokenize("이벤트 루프는, (처리량) the Threads GIL-free");
        assert_eq!(
            pipeline.run(tokens),
            ["이벤트", "루프는", "처리량", "thread", "gil", "free"]
        );
    }

    #[test]
    fn mdbook_s_script_round_trips() {
        let script = r#"window.search = Object.assign(window.search, JSON.parse('{"a":"it\'s \\"x\\" \\\\"}'));"#;
        let (json, prefix, suffix) = unwrap_script(script).unwrap();
        assert_eq!(json, r#"{"a":"it's \"x\" \\"}"#);
        let escaped = json.replace('\\', "\\\\").replace('\'', "\\'");
        assert_eq!(format!("{prefix}{escaped}{suffix}"), script);
    }
}
