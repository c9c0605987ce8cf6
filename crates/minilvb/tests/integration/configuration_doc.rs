//! docs/CONFIGURATION.md's table of settings against the program: every
//! setting in both, each with its environment variable and its default.

use minilvb::config::{Settings, env_name, known_settings};

const HEADER: &str = "| setting | environment variable | default | meaning |";

/// A row of the table: the setting, its variable, its default, as written.
struct Row {
    line: usize,
    setting: String,
    variable: String,
    default: String,
}

/// The cells of a table row; `\|` is a pipe inside a cell, not a border.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().unwrap().push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The text of a cell that is one code span, `` `x` ``, then perhaps more.
fn code_span(cell: &str) -> Option<(&str, &str)> {
    let rest = cell.strip_prefix('`')?;
    let end = rest.find('`')?;
    Some((&rest[..end], rest[end + 1..].trim()))
}

fn rows(doc: &str) -> Vec<Row> {
    let mut lines = doc.lines().enumerate();
    lines
        .by_ref()
        .find(|(_, line)| line.trim() == HEADER)
        .expect("the settings table's header");
    lines.next().expect("the separator row");
    lines
        .take_while(|(_, line)| line.trim_start().starts_with('|'))
        .map(|(index, line)| {
            let cells = cells(line);
            assert_eq!(cells.len(), 4, "line {}: {line}", index + 1);
            Row {
                line: index + 1,
                setting: cells[0].clone(),
                variable: cells[1].clone(),
                default: cells[2].clone(),
            }
        })
        .collect()
}

/// A literal default as the doc writes it against the program's value.
fn same_literal(written: &str, value: &toml::Value) -> bool {
    match value {
        toml::Value::String(text) => written == text,
        other => format!("v = {written}")
            .parse::<toml::Table>()
            .is_ok_and(|table| &table["v"] == other),
    }
}

#[test]
fn the_configuration_doc_lists_every_setting_with_its_variable_and_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIGURATION.md");
    let doc = std::fs::read_to_string(path).expect("docs/CONFIGURATION.md");
    let known = known_settings();
    let demo = Settings::demo().to_table();
    let derived = {
        let mut settings = Settings::demo();
        settings.derive_domains();
        settings.to_table()
    };
    let value_in = |table: &toml::Table, name: &str| {
        let (section, key) = name.split_once('.').unwrap();
        table.get(section).and_then(|s| s.get(key)).cloned()
    };
    let mut problems = Vec::new();
    let mut documented = Vec::new();
    for row in rows(&doc) {
        let at = format!("docs/CONFIGURATION.md:{}", row.line);
        let Some((name, "")) = code_span(&row.setting) else {
            problems.push(format!(
                "{at}: the setting is not one code span: {}",
                row.setting
            ));
            continue;
        };
        documented.push(name.to_owned());
        let Some(setting) = known.iter().find(|s| s.name == name) else {
            problems.push(format!("{at}: {name} is not a setting of the program"));
            continue;
        };
        match code_span(&row.variable) {
            Some((variable, rest)) if variable == env_name(name) => {
                if !(rest.is_empty() || rest == "(or `RUST_LOG`)") {
                    problems.push(format!(
                        "{at}: {name}: unexpected {rest:?} after the variable"
                    ));
                }
            }
            _ => problems.push(format!(
                "{at}: {name}: the variable is {}, not {}",
                env_name(name),
                row.variable
            )),
        }
        let default = &setting.default;
        let empty = default.as_str() == Some("") || default.as_array().is_some_and(Vec::is_empty);
        match row.default.as_str() {
            "none" | "empty" if !empty => {
                problems.push(format!("{at}: {name}: the default is {default}, not {}", row.default))
            }
            "none" | "empty" => {}
            "demo" if value_in(&demo, name).as_ref() == Some(default) => {
                problems.push(format!("{at}: {name}: has no demo value"))
            }
            "derived" if value_in(&derived, name) == value_in(&demo, name) => {
                problems.push(format!("{at}: {name}: is not derived from other settings"))
            }
            "demo" | "derived" => {}
            written => match code_span(written) {
                Some((literal, rest)) if rest.is_empty() || (rest.starts_with('(') && rest.ends_with(')')) => {
                    if !same_literal(literal, default) {
                        problems.push(format!("{at}: {name}: the default is {default}, not `{literal}`"));
                    }
                }
                _ => problems.push(format!(
                    "{at}: {name}: the default is neither a code span nor none, empty, demo or derived: {written}"
                )),
            },
        }
    }
    for setting in &known {
        if !documented.contains(&setting.name) {
            problems.push(format!(
                "docs/CONFIGURATION.md: {} is missing from the table",
                setting.name
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_doc_check_reads_cells_and_literals_as_written() {
    assert_eq!(cells("| `a` | `b\\|c` | d |"), ["`a`", "`b|c`", "d"]);
    assert!(same_literal(
        "flv|hls",
        &toml::Value::String("flv|hls".into())
    ));
    assert!(same_literal("50.0", &toml::Value::Float(50.0)));
    assert!(!same_literal("50", &toml::Value::Float(50.0)));
    assert!(same_literal("[]", &toml::Value::Array(Vec::new())));
    assert!(!same_literal("7", &toml::Value::Integer(8)));
    assert_eq!(code_span("`10800` (3 h)"), Some(("10800", "(3 h)")));
}
