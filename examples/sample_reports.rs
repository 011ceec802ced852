//! Builds a complete sample report of an office laser and of a large-format printer, checks
//! them, and prints them as JSON.
//!
//! Run with `cargo run -p printfleet-examples --example sample_reports`.

use printfleet_schema::samples;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for (name, report) in [("office_laser", samples::office_laser()), ("large_format", samples::large_format(3))] {
        report.validate()?;
        println!(
            "// {name}: {} consumables, {} print jobs",
            report.snapshot.consumables.len(),
            report.events.print_jobs.len()
        );
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
