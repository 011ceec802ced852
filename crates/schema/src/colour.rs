//! Colorant colours of consumables, cartridges and printheads.

use alloc::string::String;
use core::fmt;

/// A colorant colour (the Printer-MIB's `prtMarkerColorantValue`, Partner Link's "ink colour").
///
/// Known colours are variants; anything else is kept verbatim in [`Colour::Other`]. Build
/// values from device text with [`Colour::parse`], which folds case, spaces, `-`, `_` and the
/// spelling `gray`, so `Other` never holds a name that is a known colour
/// ([`DeviceReport::validate`](crate::DeviceReport::validate) checks this).
///
/// Wire code ([`Colour::code`]): the variant's number below, `0` for `Other` (whose text then
/// travels instead). The numbered list is closed: colours added in later versions get no number
/// and travel by name, so a reader of any version keeps them (as `Other` if it does not know
/// them) and a writer never sends a number an older reader lacks.
///
/// ```
/// use printfleet_schema::Colour;
/// assert_eq!(Colour::parse("Light Cyan"), Colour::LightCyan);
/// assert_eq!(Colour::parse("gray"), Colour::Grey);
/// assert_eq!(Colour::parse("chromatic red"), Colour::Other("chromatic red".into()));
/// assert_eq!(Colour::LightCyan.name(), "light_cyan");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Colour {
    /// Black (code 1).
    Black,
    /// Cyan (code 2).
    Cyan,
    /// Magenta (code 3).
    Magenta,
    /// Yellow (code 4).
    Yellow,
    /// Light cyan, photo cyan (code 5).
    LightCyan,
    /// Light magenta, photo magenta (code 6).
    LightMagenta,
    /// Photo black (code 7).
    PhotoBlack,
    /// Matte black (code 8).
    MatteBlack,
    /// Grey (code 9).
    Grey,
    /// Light grey (code 10).
    LightGrey,
    /// Dark grey (code 11).
    DarkGrey,
    /// Red (code 12).
    Red,
    /// Green (code 13).
    Green,
    /// Blue (code 14).
    Blue,
    /// Orange (code 15).
    Orange,
    /// Violet (code 16).
    Violet,
    /// White (code 17).
    White,
    /// Gloss enhancer, chromatic optimiser (code 18).
    GlossEnhancer,
    /// A single supply holding cyan, magenta and yellow (code 19).
    TriColour,
    /// Any other colour, verbatim as the device named it (code 0).
    Other(String),
}

/// (variant, code, canonical name, folded aliases)
const KNOWN: &[(Colour, u32, &str, &[&str])] = &[
    (Colour::Black, 1, "black", &["black", "k"]),
    (Colour::Cyan, 2, "cyan", &["cyan", "c"]),
    (Colour::Magenta, 3, "magenta", &["magenta", "m"]),
    (Colour::Yellow, 4, "yellow", &["yellow", "y"]),
    (Colour::LightCyan, 5, "light_cyan", &["lightcyan", "photocyan", "lc"]),
    (Colour::LightMagenta, 6, "light_magenta", &["lightmagenta", "photomagenta", "lm"]),
    (Colour::PhotoBlack, 7, "photo_black", &["photoblack", "pk"]),
    (Colour::MatteBlack, 8, "matte_black", &["matteblack", "mk"]),
    (Colour::Grey, 9, "grey", &["grey", "gray"]),
    (Colour::LightGrey, 10, "light_grey", &["lightgrey", "lightgray"]),
    (Colour::DarkGrey, 11, "dark_grey", &["darkgrey", "darkgray"]),
    (Colour::Red, 12, "red", &["red"]),
    (Colour::Green, 13, "green", &["green"]),
    (Colour::Blue, 14, "blue", &["blue"]),
    (Colour::Orange, 15, "orange", &["orange"]),
    (Colour::Violet, 16, "violet", &["violet"]),
    (Colour::White, 17, "white", &["white"]),
    (
        Colour::GlossEnhancer,
        18,
        "gloss_enhancer",
        &["glossenhancer", "chromaticoptimizer", "chromaticoptimiser", "gloss"],
    ),
    (Colour::TriColour, 19, "tri_colour", &["tricolour", "tricolor", "cmy"]),
];

/// Longest colour name folded for matching; longer text cannot be a known colour.
const MAX_FOLDED: usize = 24;

impl Colour {
    /// The colour a device's text names, folding case, white space, `-`, `_` and `gray`.
    /// Unrecognised text is kept, trimmed, in [`Colour::Other`].
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        let mut folded = [0u8; MAX_FOLDED];
        let mut len = 0usize;
        for b in trimmed.bytes() {
            if b.is_ascii_whitespace() || b == b'-' || b == b'_' {
                continue;
            }
            match folded.get_mut(len) {
                Some(slot) => *slot = b.to_ascii_lowercase(),
                None => return Self::Other(trimmed.into()),
            }
            len = len.saturating_add(1);
        }
        let folded = folded.get(..len).unwrap_or_default();
        KNOWN
            .iter()
            .find(|(_, _, _, aliases)| aliases.iter().any(|a| a.as_bytes() == folded))
            .map_or_else(|| Self::Other(trimmed.into()), |(c, ..)| c.clone())
    }

    /// The wire code: 1 to 19 for the known colours, 0 for [`Colour::Other`].
    pub fn code(&self) -> u32 {
        KNOWN.iter().find(|(c, ..)| c == self).map_or(0, |(_, code, ..)| *code)
    }

    /// The known colour with this wire code (`None` for 0 and for codes this version lacks).
    pub fn from_code(code: u32) -> Option<Self> {
        KNOWN.iter().find(|(_, c, ..)| *c == code).map(|(c, ..)| c.clone())
    }

    /// The canonical snake_case name, or the verbatim text of [`Colour::Other`].
    pub fn name(&self) -> &str {
        match self {
            Self::Other(text) => text,
            known => KNOWN.iter().find(|(c, ..)| c == known).map_or("", |(_, _, name, _)| name),
        }
    }

    /// Whether this value is in normal form: not an `Other` whose text parses as a known colour,
    /// and not an empty `Other`.
    pub fn is_normalised(&self) -> bool {
        match self {
            Self::Other(text) => !text.trim().is_empty() && matches!(Self::parse(text), Self::Other(t) if t == *text),
            _ => true,
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Colour {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Colour {
    /// Any string; known names (and their aliases) become variants, as [`Colour::parse`] does.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Colour;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a colour name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Colour, E> {
                Ok(Colour::parse(v))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for Colour {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    /// Known colours, and normalised `Other` names.
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        let known: alloc::vec::Vec<Colour> = KNOWN.iter().map(|(c, ..)| c.clone()).collect();
        prop_oneof![
            4 => proptest::sample::select(known),
            1 => "[a-z][a-z ]{0,14}[a-z]"
                .prop_map(|s| Colour::parse(&s))
                .prop_filter("normal form", Colour::is_normalised),
        ]
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    #[test]
    fn every_known_colour_parses_from_its_name_and_code() {
        for (colour, code, name, _) in KNOWN {
            assert_eq!(Colour::parse(name), *colour);
            assert_eq!(colour.code(), *code);
            assert_eq!(Colour::from_code(*code).as_ref(), Some(colour));
            assert_eq!(colour.name(), *name);
        }
        assert_eq!(Colour::from_code(0), None);
        assert_eq!(Colour::Other("x".into()).code(), 0);
    }

    #[test]
    fn parse_folds_device_spellings() {
        assert_eq!(Colour::parse("  BLACK "), Colour::Black);
        assert_eq!(Colour::parse("Photo-Magenta"), Colour::LightMagenta);
        assert_eq!(Colour::parse("light_gray"), Colour::LightGrey);
        assert_eq!(Colour::parse("Chromatic Optimizer"), Colour::GlossEnhancer);
        let long = "a colour name far longer than any known colour name";
        assert_eq!(Colour::parse(long), Colour::Other(long.into()));
    }

    #[test]
    fn normal_form() {
        assert!(Colour::Cyan.is_normalised());
        assert!(Colour::Other("chromatic red".into()).is_normalised());
        assert!(!Colour::Other("cyan".into()).is_normalised());
        assert!(!Colour::Other(" padded".into()).is_normalised());
        assert!(!Colour::Other(String::new()).is_normalised());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_is_the_name() {
        assert_eq!(serde_json::to_string(&Colour::LightCyan).unwrap(), "\"light_cyan\"");
        assert_eq!(serde_json::from_str::<Colour>("\"light_cyan\"").unwrap(), Colour::LightCyan);
        assert_eq!(serde_json::from_str::<Colour>("\"neon\"").unwrap(), Colour::Other("neon".into()));
    }
}
