//! Builds a complete sample report of an office laser and of a large-format printer, checks
//! them, and prints them as one JSON document: an object whose members are the samples' names
//! (a summary of each goes to stderr).
//!
//! Run with `cargo run -p printfleet-examples --example sample_reports`.

use printfleet_schema::samples;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = serde_json::Map::new();
    for (name, report) in [("office_laser", samples::office_laser()), ("large_format", samples::large_format(3))] {
        report.validate()?;
        eprintln!(
            "{name}: {} consumables, {} print jobs",
            report.snapshot.consumables.len(),
            report.events.print_jobs.len()
        );
        out.insert(name.to_owned(), serde_json::to_value(&report)?);
    }
    println!("{}", serde_json::to_string_pretty(&serde_json::Value::Object(out))?);
    Ok(())
}
