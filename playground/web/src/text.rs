//! Every word the visualizer shows, in each language the book is published in.
//! The page's language (`<html lang>`, "ko" on the Korean edition) picks one
//! ([`Lang::of_page`]); the wasm is one build for all of them.
//!
//! Kept in step by construction: [`Text`] (fixed strings) and [`Msg`] (strings
//! with values) have one exhaustive `match` per language, so a string added in
//! English without its Korean does not compile. Numbers reach a message as
//! arguments and are formatted here, the same way in every language. Korean
//! terms are the book's glossary's (po/glossary.tsv); model ids (`sync-pool`),
//! code and product names (uvicorn, `spawn_blocking`) stay as they are.
//!
//! Leaves out: the event names of the CSV export (`Arrive`, `Done`, …: the
//! simulation's own identifiers, read by programs), and the units (ms, s, %).

use waiting_well_sim::ModelKind;

/// A language the visualizer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The language of a BCP 47 tag (`ko`, `ko-KR`); English for any other.
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("ko") {
            Lang::Ko
        } else {
            Lang::En
        }
    }

    /// The language of the page (`document.documentElement.lang`).
    pub fn of_page(doc: &web_sys::Document) -> Lang {
        doc.document_element()
            .and_then(|html| html.get_attribute("lang"))
            .map_or(Lang::En, |tag| Lang::from_tag(&tag))
    }
}

/// A fixed string: a label, a button, a legend entry, a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// The embed's accessible name.
    Visualizer,
    // Field labels (the form) and the fields' names in messages.
    ModelLabel,
    ModelName,
    CompareLabel,
    CompareName,
    WorkersLabel,
    WorkersName,
    ArrivalsLabel,
    ArrivalsName,
    ClientsLabel,
    ClientsName,
    ThinkLabel,
    ThinkName,
    RateLabel,
    RateName,
    CpuLabel,
    CpuName,
    WaitLabel,
    WaitName,
    DistLabel,
    DistName,
    RequestsLabel,
    RequestsName,
    SeedLabel,
    SeedName,
    SwitchLabel,
    SwitchName,
    BlockingLabel,
    BlockingName,
    OffloadLabel,
    OffloadName,
    SpeedLabel,
    SpeedName,
    // Options of the selects.
    NoModel,
    ClosedLoop,
    OpenLoop,
    Fixed,
    Exponential,
    /// A model's name and description (the id stays as it is).
    Model(ModelKind),
    // The transport bar.
    StepBack,
    Play,
    Pause,
    StepForward,
    Time,
    ExportTrace,
    ExportCsv,
    // The colour key.
    Running,
    WaitingIo,
    Queued,
    LoopBlocked,
    WaitingGil,
    // The panel's metric line and details.
    Throughput,
    RequestsPerSecond,
    Latency,
    LittlesLaw,
    CpuBusy,
    MostQueued,
    HeldByRequest,
    GilWaitTerm,
    LoopBlockedTerm,
    Note,
    Truncated,
    // The canvas.
    QueuedChart,
    InIoChart,
    // The Chrome trace's slice names.
    TraceCpu,
    TraceWaitHolding,
    TraceBlock,
    TraceGilWait,
    TraceIoWait,
    TraceQueued,
}

impl Text {
    /// Every fixed string (each model once), for the tests.
    pub fn all() -> Vec<Text> {
        use Text::*;
        let mut all = vec![
            Visualizer,
            ModelLabel,
            ModelName,
            CompareLabel,
            CompareName,
            WorkersLabel,
            WorkersName,
            ArrivalsLabel,
            ArrivalsName,
            ClientsLabel,
            ClientsName,
            ThinkLabel,
            ThinkName,
            RateLabel,
            RateName,
            CpuLabel,
            CpuName,
            WaitLabel,
            WaitName,
            DistLabel,
            DistName,
            RequestsLabel,
            RequestsName,
            SeedLabel,
            SeedName,
            SwitchLabel,
            SwitchName,
            BlockingLabel,
            BlockingName,
            OffloadLabel,
            OffloadName,
            SpeedLabel,
            SpeedName,
            NoModel,
            ClosedLoop,
            OpenLoop,
            Fixed,
            Exponential,
            StepBack,
            Play,
            Pause,
            StepForward,
            Time,
            ExportTrace,
            ExportCsv,
            Running,
            WaitingIo,
            Queued,
            LoopBlocked,
            WaitingGil,
            Throughput,
            RequestsPerSecond,
            Latency,
            LittlesLaw,
            CpuBusy,
            MostQueued,
            HeldByRequest,
            GilWaitTerm,
            LoopBlockedTerm,
            Note,
            Truncated,
            QueuedChart,
            InIoChart,
            TraceCpu,
            TraceWaitHolding,
            TraceBlock,
            TraceGilWait,
            TraceIoWait,
            TraceQueued,
        ];
        all.extend(ModelKind::ALL.map(Model));
        all
    }

    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en(),
            Lang::Ko => self.ko(),
        }
    }

    pub fn en(self) -> &'static str {
        use Text::*;
        match self {
            Visualizer => "Server model visualizer",
            ModelLabel => "Model",
            ModelName => "model",
            CompareLabel => "Compare with",
            CompareName => "compare",
            WorkersLabel => "Workers / threads / loops",
            WorkersName => "workers",
            ArrivalsLabel => "Arrivals",
            ArrivalsName => "arrivals",
            ClientsLabel => "Clients",
            ClientsName => "clients",
            ThinkLabel => "Think time (ms)",
            ThinkName => "think time (ms)",
            RateLabel => "Arrival rate (requests/s)",
            RateName => "arrival rate (/s)",
            CpuLabel => "CPU per request (ms)",
            CpuName => "CPU (ms)",
            WaitLabel => "I/O wait (ms)",
            WaitName => "wait (ms)",
            DistLabel => "Phase lengths",
            DistName => "phase lengths",
            RequestsLabel => "Requests",
            RequestsName => "requests",
            SeedLabel => "Seed",
            SeedName => "seed",
            SwitchLabel => "GIL switch interval (ms)",
            SwitchName => "switch interval (ms)",
            BlockingLabel => "Handlers that block the loop (%)",
            BlockingName => "blocking share (%)",
            OffloadLabel => "Move blocking calls to a thread pool (def endpoint · spawn_blocking)",
            OffloadName => "offload",
            SpeedLabel => "Speed",
            SpeedName => "speed",
            NoModel => "(none)",
            ClosedLoop => "Closed loop (N clients)",
            OpenLoop => "Open loop (Poisson)",
            Fixed => "Fixed",
            Exponential => "Exponential",
            Model(kind) => kind.label(),
            StepBack => "Step back",
            Play => "Play",
            Pause => "Pause",
            StepForward => "Step forward",
            Time => "Time",
            ExportTrace => "Export Chrome trace (JSON)",
            ExportCsv => "Export events (CSV)",
            Running => "running (CPU)",
            WaitingIo => "waiting on I/O",
            Queued => "queued",
            LoopBlocked => "loop blocked",
            WaitingGil => "waiting for the GIL",
            Throughput => "Throughput: ",
            RequestsPerSecond => " requests/s",
            Latency => "Latency p50 / p95 / p99",
            LittlesLaw => "Little's law",
            CpuBusy => "CPU busy per lane",
            MostQueued => "Most requests queued",
            HeldByRequest => "Held by a request",
            GilWaitTerm => "Waiting for the GIL",
            LoopBlockedTerm => "Loop blocked",
            Note => "Note",
            Truncated => "stopped at the event cap: some requests did not finish",
            QueuedChart => "queued",
            InIoChart => "in I/O",
            TraceCpu => "cpu",
            TraceWaitHolding => "I/O wait (holding the worker)",
            TraceBlock => "blocking call on the loop",
            TraceGilWait => "waiting for the GIL",
            TraceIoWait => "I/O wait",
            TraceQueued => "queued",
        }
    }

    pub fn ko(self) -> &'static str {
        use Text::*;
        match self {
            Visualizer => "서버 모델 시각화 도구",
            ModelLabel => "모델",
            ModelName => "모델",
            CompareLabel => "비교 대상",
            CompareName => "비교 대상",
            WorkersLabel => "워커 / 스레드 / 루프 수",
            WorkersName => "워커 수",
            ArrivalsLabel => "요청 도착 방식",
            ArrivalsName => "도착 방식",
            ClientsLabel => "클라이언트 수",
            ClientsName => "클라이언트 수",
            ThinkLabel => "생각 시간 (ms)",
            ThinkName => "생각 시간(ms)",
            RateLabel => "도착률 (요청/s)",
            RateName => "도착률(/s)",
            CpuLabel => "요청당 CPU (ms)",
            CpuName => "요청당 CPU(ms)",
            WaitLabel => "I/O 대기 (ms)",
            WaitName => "I/O 대기(ms)",
            DistLabel => "단계 길이",
            DistName => "단계 길이",
            RequestsLabel => "요청 수",
            RequestsName => "요청 수",
            SeedLabel => "시드",
            SeedName => "시드",
            SwitchLabel => "GIL 전환 간격 (ms)",
            SwitchName => "전환 간격(ms)",
            BlockingLabel => "루프를 블로킹하는 핸들러 (%)",
            BlockingName => "블로킹 비율(%)",
            OffloadLabel => "블로킹 호출을 스레드 풀로 옮기기 (def 엔드포인트 · spawn_blocking)",
            OffloadName => "스레드 풀로 옮기기",
            SpeedLabel => "속도",
            SpeedName => "속도",
            NoModel => "(없음)",
            ClosedLoop => "닫힌 루프 (클라이언트 N개)",
            OpenLoop => "열린 루프 (포아송 도착)",
            Fixed => "고정",
            Exponential => "지수 분포",
            Model(kind) => match kind {
                ModelKind::SyncPool => "sync-pool: 동기 워커 k개 (gunicorn sync · rouille)",
                ModelKind::EventLoop => {
                    "event-loop: 이벤트 루프 하나 (uvicorn · tokio current_thread)"
                }
                ModelKind::BlockedLoop => {
                    "blocked-loop: 블로킹 핸들러가 있는 이벤트 루프 (async def 안의 time.sleep · async fn 안의 thread::sleep)"
                }
                ModelKind::GilThreads => {
                    "gil-threads: GIL 하나를 나눠 쓰는 스레드 (CPython 스레드 · gunicorn gthread)"
                }
                ModelKind::LoopPerWorker => {
                    "loop-per-worker: 이벤트 루프 k개, 연결마다 그중 하나에 고정 (uvicorn --workers k · actix-web)"
                }
                ModelKind::WorkStealing => {
                    "work-stealing: 모든 태스크를 나눠 맡는 런타임 워커 k개 (tokio multi-thread)"
                }
            },
            StepBack => "한 단계 뒤로",
            Play => "재생",
            Pause => "일시 정지",
            StepForward => "한 단계 앞으로",
            Time => "시간",
            ExportTrace => "Chrome 트레이스 내보내기 (JSON)",
            ExportCsv => "이벤트 내보내기 (CSV)",
            Running => "실행 중 (CPU)",
            WaitingIo => "I/O 대기 중",
            Queued => "대기열에서 기다림",
            LoopBlocked => "루프 블로킹",
            WaitingGil => "GIL 대기 중",
            Throughput => "처리량: ",
            RequestsPerSecond => " 요청/s",
            Latency => "지연 시간 p50 / p95 / p99",
            LittlesLaw => "리틀의 법칙",
            CpuBusy => "레인별 CPU 사용률",
            MostQueued => "대기열의 최대 요청 수",
            HeldByRequest => "요청이 점유한 비율",
            GilWaitTerm => "GIL 대기",
            LoopBlockedTerm => "루프 블로킹",
            Note => "참고",
            Truncated => "이벤트 상한에서 멈췄습니다: 끝나지 않은 요청이 있습니다",
            QueuedChart => "대기열",
            InIoChart => "I/O 중",
            TraceCpu => "CPU",
            TraceWaitHolding => "I/O 대기 (워커 점유)",
            TraceBlock => "루프 위의 블로킹 호출",
            TraceGilWait => "GIL 대기",
            TraceIoWait => "I/O 대기",
            TraceQueued => "대기열",
        }
    }
}

/// What one lane of a model is (its name on the canvas and in the trace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneKind {
    Loop,
    Thread,
    Worker,
}

/// A string with values in it: a message, a readout, a detail row's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// A field's value was out of range and is stored clamped to `to`.
    Clamped {
        field: Text,
        to: String,
    },
    /// The playback speed `given` is not one of the listed ones: back to 1×.
    SpeedReset {
        given: f64,
    },
    /// What the reader typed is not a value: the field keeps `kept`.
    KeptAt {
        field: Text,
        kept: String,
        given: String,
    },
    /// Parts of the URL not used (already cut and quoted), and how many more.
    IgnoredInUrl {
        shown: Vec<String>,
        more: usize,
    },
    UnknownPreset {
        preset: String,
        known: String,
    },
    ExportTooBig {
        max: usize,
        events: usize,
    },
    /// A run of `requests` requests per model is being simulated (on worker threads).
    Simulating {
        requests: u32,
        models: usize,
    },
    /// A lane's name: `Loop` with no index is the only loop.
    Lane {
        kind: LaneKind,
        index: Option<usize>,
    },
    /// A lane's name among more than nine (`w12`).
    LaneShort {
        index: usize,
    },
    /// Lane utilisation past 8 lanes, in percent.
    LaneSpread {
        mean: f64,
        min: f64,
        max: f64,
    },
    GilWaitValue {
        ms: f64,
        forced: u64,
    },
    /// `ids`: the first delayed requests' numbers (`more`: others not listed).
    LoopBlockedValue {
        ms: f64,
        delayed: usize,
        ids: Vec<u32>,
        more: bool,
    },
    Summary {
        model: ModelKind,
        throughput: f64,
        p50_ms: f64,
        p99_ms: f64,
    },
    /// The canvas's accessible name; `multi`: one lane per worker (else per loop thread).
    TimelineAria {
        model: ModelKind,
        multi: bool,
    },
    Ratio {
        ratio: f64,
    },
    /// The time readout: the cursor and the end, already formatted.
    TimeReadout {
        at: String,
        of: String,
    },
    /// The largest value of a step chart.
    ChartMax {
        max: u32,
    },
}

impl Msg {
    pub fn get(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en(),
            Lang::Ko => self.ko(),
        }
    }

    pub fn en(&self) -> String {
        let en = |t: &Text| t.en();
        match self {
            Msg::Clamped { field, to } => format!("{} clamped to {to}", en(field)),
            Msg::SpeedReset { given } => format!("speed {given} reset to 1×"),
            Msg::KeptAt { field, kept, given } => {
                format!("{} kept at {kept} (“{given}” is not a value)", en(field))
            }
            Msg::IgnoredInUrl { shown, more } => {
                let mut parts = shown.clone();
                if *more > 0 {
                    parts.push(format!("and {more} more"));
                }
                format!("ignored in the URL: {}", parts.join(", "))
            }
            Msg::UnknownPreset { preset, known } => {
                format!("Unknown visualizer preset “{preset}” (known: {known}).")
            }
            Msg::ExportTooBig { max, events } => format!(
                "Export holds at most {max} events and this run has {events}: \
                 lower the requests to export it."
            ),
            Msg::Simulating { requests, models } => {
                format!("Simulating {requests} requests through {models} model(s)…")
            }
            Msg::Lane { kind, index } => match (kind, index) {
                (LaneKind::Loop, None) => "loop".into(),
                (LaneKind::Loop, Some(i)) => format!("loop {i}"),
                (LaneKind::Thread, i) => format!("thread {}", i.unwrap_or(0)),
                (LaneKind::Worker, i) => format!("worker {}", i.unwrap_or(0)),
            },
            Msg::LaneShort { index } => format!("w{index}"),
            Msg::LaneSpread { mean, min, max } => {
                format!("mean {mean:.0} % (min {min:.0} %, max {max:.0} %)")
            }
            Msg::GilWaitValue { ms, forced } => {
                format!("{ms:.0} ms total, {forced} forced switches")
            }
            Msg::LoopBlockedValue {
                ms,
                delayed,
                ids,
                more,
            } => format!(
                "{ms:.0} ms; delayed {delayed} requests ({}{})",
                request_ids(ids),
                if *more { " …" } else { "" }
            ),
            Msg::Summary {
                model,
                throughput,
                p50_ms,
                p99_ms,
            } => format!(
                "{}: {throughput:.1} requests per second, median latency {p50_ms:.1} ms, \
                 99th percentile {p99_ms:.1} ms.",
                model.label()
            ),
            Msg::TimelineAria { model, multi } => format!(
                "Timeline of {}: one lane per {}, coloured by what each is doing.",
                model.label(),
                if *multi { "worker" } else { "loop thread" }
            ),
            Msg::Ratio { ratio } => {
                format!("The second model serves {ratio:.1}× the throughput of the first.")
            }
            Msg::TimeReadout { at, of } => format!("t = {at} of {of}"),
            Msg::ChartMax { max } => format!("max {max}"),
        }
    }

    pub fn ko(&self) -> String {
        let ko = |t: &Text| t.ko();
        match self {
            Msg::Clamped { field, to } => format!(
                "범위를 벗어난 {} 값을 {to}{} 조정했습니다",
                ko(field),
                josa_ro(to)
            ),
            Msg::SpeedReset { given } => {
                format!("목록에 없는 속도 {given}: 1×로 되돌렸습니다")
            }
            Msg::KeptAt { field, kept, given } => format!(
                "{} 값을 {kept}{} 유지했습니다 (“{given}”: 값이 아닙니다)",
                ko(field),
                josa_ro(kept)
            ),
            Msg::IgnoredInUrl { shown, more } => {
                let mut parts = shown.clone();
                if *more > 0 {
                    parts.push(format!("그 밖에 {more}개"));
                }
                format!("URL에서 무시한 부분: {}", parts.join(", "))
            }
            Msg::UnknownPreset { preset, known } => {
                format!("알 수 없는 시각화 도구 프리셋 “{preset}” (있는 프리셋: {known}).")
            }
            Msg::ExportTooBig { max, events } => format!(
                "내보내기는 이벤트를 최대 {max}개까지 담는데 이 실행에는 {events}개가 있습니다: \
                 요청 수를 줄이면 내보낼 수 있습니다."
            ),
            Msg::Simulating { requests, models } => {
                format!("요청 {requests}개를 모델 {models}개로 시뮬레이션하는 중…")
            }
            Msg::Lane { kind, index } => match (kind, index) {
                (LaneKind::Loop, None) => "루프".into(),
                (LaneKind::Loop, Some(i)) => format!("루프 {i}"),
                (LaneKind::Thread, i) => format!("스레드 {}", i.unwrap_or(0)),
                (LaneKind::Worker, i) => format!("워커 {}", i.unwrap_or(0)),
            },
            Msg::LaneShort { index } => format!("w{index}"),
            Msg::LaneSpread { mean, min, max } => {
                format!("평균 {mean:.0} % (최소 {min:.0} %, 최대 {max:.0} %)")
            }
            Msg::GilWaitValue { ms, forced } => {
                format!("총 {ms:.0} ms, 강제 전환 {forced}회")
            }
            Msg::LoopBlockedValue {
                ms,
                delayed,
                ids,
                more,
            } => format!(
                "{ms:.0} ms, 늦어진 요청 {delayed}개 ({}{})",
                request_ids(ids),
                if *more { " …" } else { "" }
            ),
            Msg::Summary {
                model,
                throughput,
                p50_ms,
                p99_ms,
            } => format!(
                "{}: 초당 요청 {throughput:.1}개, 지연 시간 중앙값 {p50_ms:.1} ms, \
                 99번째 백분위수 {p99_ms:.1} ms.",
                Text::Model(*model).ko()
            ),
            Msg::TimelineAria { model, multi } => format!(
                "{}의 타임라인: {}마다 레인 하나, 각 레인이 하는 일에 따라 색을 칠했습니다.",
                Text::Model(*model).ko(),
                if *multi { "워커" } else { "루프 스레드" }
            ),
            Msg::Ratio { ratio } => {
                format!("두 번째 모델의 처리량은 첫 번째 모델의 {ratio:.1}배입니다.")
            }
            Msg::TimeReadout { at, of } => format!("t = {at} (전체 {of})"),
            Msg::ChartMax { max } => format!("최대 {max}"),
        }
    }
}

/// `#3 #17 #21`
fn request_ids(ids: &[u32]) -> String {
    ids.iter()
        .map(|r| format!("#{r}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The particle "to" (로 / 으로) after a number as Korean reads it: 으로 after a
/// final consonant other than ㄹ (영 0, 삼 3, 육 6, and 십 · 백 · 천 · 만, which
/// end in 0), 로 after a vowel or ㄹ (일 1, 이 2, 사 4, 오 5, 칠 7, 팔 8, 구 9).
fn josa_ro(number: &str) -> &'static str {
    match number
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .last()
    {
        Some('0' | '3' | '6') => "으로",
        _ => "로",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_hangul(s: &str) -> bool {
        s.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
    }

    /// Every Korean string is Korean: no English left in place of a translation
    /// (the few that are code or symbols in both languages are listed).
    #[test]
    fn every_korean_string_is_korean() {
        let same_in_both = [Text::TraceCpu];
        for t in Text::all() {
            if same_in_both.contains(&t) {
                continue;
            }
            assert!(has_hangul(t.ko()), "{t:?}: {:?} has no Korean", t.ko());
        }
    }

    /// Model ids stay the code's names in every language.
    #[test]
    fn model_names_keep_their_ids() {
        for kind in ModelKind::ALL {
            for lang in Lang::ALL {
                let label = Text::Model(kind).get(lang);
                assert!(label.starts_with(&format!("{}: ", kind.id())), "{label}");
            }
        }
    }

    #[test]
    fn messages_carry_their_numbers_in_both_languages() {
        let msgs = [
            Msg::Clamped {
                field: Text::WorkersName,
                to: "1024".into(),
            },
            Msg::ExportTooBig {
                max: 2_500_000,
                events: 3_000_123,
            },
            Msg::Simulating {
                requests: 1_000_000,
                models: 2,
            },
            Msg::Summary {
                model: ModelKind::SyncPool,
                throughput: 77.25,
                p50_ms: 51.5,
                p99_ms: 99.9,
            },
        ];
        for m in &msgs {
            let (en, ko) = (m.en(), m.ko());
            assert!(has_hangul(&ko) && !has_hangul(&en), "{en} / {ko}");
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
            assert_eq!(digits(&en), digits(&ko), "{en} / {ko}");
        }
        assert_eq!(
            msgs[0].ko(),
            "범위를 벗어난 워커 수 값을 1024로 조정했습니다"
        );
    }

    #[test]
    fn the_particle_follows_the_last_digit() {
        assert_eq!(josa_ro("1024"), "로");
        assert_eq!(josa_ro("10"), "으로");
        assert_eq!(josa_ro("0.1"), "로");
        assert_eq!(josa_ro("100000"), "으로");
        assert_eq!(josa_ro("3"), "으로");
        assert_eq!(josa_ro("7 ms"), "로");
    }

    #[test]
    fn the_page_language_picks_korean_by_its_primary_tag() {
        assert_eq!(Lang::from_tag("ko"), Lang::Ko);
        assert_eq!(Lang::from_tag("ko-KR"), Lang::Ko);
        assert_eq!(Lang::from_tag("en"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
        assert_eq!(Lang::from_tag("kok"), Lang::En);
    }
}
