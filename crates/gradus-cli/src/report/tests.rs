//! The report's figures rendered in full, checked from their drawing data and runs.

use super::*;
use std::path::Path;

#[test]
fn commands_split_like_a_shell_and_pick_quick_numbers() {
    let words = command_words(
        "compare --optimizer 'sgd(lr=0.1, momentum=0.9)' --steps {400|100}",
        false,
    );
    assert_eq!(
        words,
        vec![
            "compare",
            "--optimizer",
            "sgd(lr=0.1, momentum=0.9)",
            "--steps",
            "400"
        ]
    );
    assert_eq!(
        command_words("--steps {400|100}", true),
        vec!["--steps", "100"]
    );
}

#[test]
fn every_figure_row_is_well_formed() {
    let mut ids = std::collections::HashSet::new();
    for f in FIGURES {
        assert!(ids.insert(f.id), "figure id {} used twice", f.id);
        assert!(
            SECTIONS.iter().any(|s| s.id == f.section),
            "{}: no section {}",
            f.id,
            f.section
        );
        let words = command_words(f.command, false);
        let images = words
            .windows(2)
            .filter(|w| PLOT_FLAGS.contains(&w[0].as_str()))
            .count();
        assert_eq!(images, f.alts.len(), "{}: one alt text per image", f.id);
        let alts: std::collections::HashSet<_> = f.alts.iter().collect();
        assert_eq!(alts.len(), f.alts.len(), "{}: alt texts repeat", f.id);
        assert!(
            !figures::methods_of(&words).is_empty() || words[0] == "schedules",
            "{}: no update rule for its optimizers",
            f.id
        );
    }
    for s in SECTIONS {
        assert!(
            !ids.contains(s.id),
            "section id {} is also a figure id",
            s.id
        );
    }
}

/// The full report, rendered once: every figure's runs and drawings.
#[test]
fn the_full_report_draws_cleanly_and_its_texts_match_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<Result<Made, CliError>> = FIGURES
        .par_iter()
        .map(|f| run_figure(f, dir.path(), false))
        .collect();
    let mut problems = Vec::new();
    for (f, m) in FIGURES.iter().zip(&made) {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{}: failed: {}", f.id, e.message));
                continue;
            }
        };
        assert_eq!(
            m.drawings.len(),
            m.images.len(),
            "{}: a drawing per image",
            f.id
        );
        for (file, d) in &m.drawings {
            // From the drawing data: no look-alike series, no legend over a series, and
            // an edge marker for every run that leaves the frame.
            for fault in d.faults() {
                problems.push(format!("{}: {file}: {fault}", f.id));
            }
            // A legend, or panels titled by their series.
            assert!(
                d.legend.is_some() || !d.panels.is_empty(),
                "{}: {file} has no legend",
                f.id
            );
            assert!(
                !d.series.is_empty() || d.panels.iter().all(|p| !p.series.is_empty()),
                "{}: {file} drew no series",
                f.id
            );
        }
    }
    for (f, claims) in FIGURES.iter().zip(all_claims(&made)) {
        for r in claims {
            if let Err(why) = r {
                problems.push(format!("{}: claim does not hold: {why}", f.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The page: unique ids, an alt text per image, the pointer to `gradus serve`.
    let (html, failures, warnings) = page(&made, false, 1.0);
    assert!(
        failures.is_empty() && warnings.is_empty(),
        "{failures:?} {warnings:?}"
    );
    let ids: Vec<&str> = html
        .split(" id=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "repeated HTML ids in {ids:?}");
    for link in html
        .split("href=\"#")
        .skip(1)
        .filter_map(|r| r.split('"').next())
    {
        assert!(ids.contains(&link), "link to a missing id #{link}");
    }
    let alts: Vec<&str> = html
        .split(" alt=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .collect();
    let distinct: std::collections::HashSet<_> = alts.iter().collect();
    assert_eq!(distinct.len(), alts.len(), "repeated alt texts");
    assert!(html.contains("gradus serve"));
    assert!(html.contains("position:sticky"));
    // The saddle's view is symmetric about the saddle point.
    let saddle = made[FIGURES.iter().position(|f| f.id == "saddle").unwrap()]
        .as_ref()
        .unwrap();
    let plot = saddle.drawings[0].1.plot_area.unwrap();
    assert!(plot.width() > 0.0);
}

/// The figures of `section`, run in quick mode (the other figures fail as not run).
fn quick_section(section: &str, dir: &Path) -> Vec<Result<Made, CliError>> {
    FIGURES
        .par_iter()
        .map(|f| {
            if f.section == section {
                run_figure(f, dir, true)
            } else {
                Err(CliError::usage("not run"))
            }
        })
        .collect()
}

/// Muon vs AdamW vs Adafactor: its claims, and that each run uses its sweep's best lr,
/// hold in quick mode too; both figures draw cleanly.
#[test]
fn the_muon_section_holds_in_quick_mode() {
    let dir = tempfile::tempdir().unwrap();
    let made = quick_section("sec-muon", dir.path());
    let ids = ["muon_sweep", "muon"];
    let at = |id: &str| FIGURES.iter().position(|f| f.id == id).unwrap();
    let claims = all_claims(&made);
    for id in ids {
        let m = made[at(id)]
            .as_ref()
            .unwrap_or_else(|e| panic!("{id}: {}", e.message));
        assert!(!m.drawings.is_empty(), "{id}: no drawing");
        for (file, d) in &m.drawings {
            assert!(d.faults().is_empty(), "{id}: {file}: {:?}", d.faults());
            assert!(dir.path().join(file).exists(), "{id}: {file} not written");
        }
    }
    let muon = &claims[at("muon")];
    // Its own three claims and the lr-pick check.
    assert_eq!(muon.len(), FIGURES[at("muon")].claims.len() + 1);
    for c in muon {
        assert!(c.is_ok(), "{c:?}");
    }
    let picks = muon.last().unwrap().as_ref().unwrap();
    assert!(picks.contains("best lr of the sweep"), "{picks}");
    // The sweep found one best lr per optimizer, and the comparison's methods include
    // the members of the partition.
    let sweep = made[at("muon_sweep")].as_ref().unwrap();
    assert_eq!(sweep.best_lrs.len(), 3);
    let names: Vec<&str> = made[at("muon")]
        .as_ref()
        .unwrap()
        .methods
        .iter()
        .map(|m| m.name)
        .collect();
    for n in ["partition", "muon", "adamw", "adafactor"] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
}

#[test]
fn lr_picks_are_checked_to_three_digits() {
    let runs = vec![
        "adam(lr=0.0316)".to_string(),
        "partition(matrices=muon(lr=0.1))".to_string(),
    ];
    assert!(check_lr_picks(&runs, &[Some(10f64.powf(-1.5)), Some(0.1)]).is_ok());
    let e = check_lr_picks(&runs, &[Some(0.01), Some(0.1)]).unwrap_err();
    assert!(
        e.contains("adam(lr=0.0316): lr 0.0316 (the sweep's best: 0.0100)"),
        "{e}"
    );
    assert!(check_lr_picks(&runs, &[Some(0.1)]).is_err());
    assert!(check_lr_picks(&runs, &[None, Some(0.1)]).is_err());
}
