//! What is billed: a [`Category`], one counter series per device.

use core::fmt;
use core::str::FromStr;

use printfleet_schema::{Colour, MeterKind};
use serde::{Deserialize, Serialize};

use crate::MeterError;

/// The longest [`Label`] (a media type or application category name) and the longest colour
/// name of a [`Category::Ink`], in bytes: device names for these are short ("bond", "cad",
/// "Photo Gloss Paper"); a longer one is an input error rather than something to bill under.
pub const MAX_LABEL_LEN: usize = 64;

/// A device's name for a media type or an application category (Partner Link appendix A:
/// "media type name", "application category identifier"): 1 to [`MAX_LABEL_LEN`] bytes, no
/// control characters, no leading or trailing white space. Checked on construction, so a label
/// is always safe in a CSV field, a CloudEvents id and a JSON key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(String);

impl Label {
    /// Checks and wraps a name.
    pub fn new(name: &str) -> Result<Self, MeterError> {
        if valid_text(name) { Ok(Self(name.into())) } else { Err(MeterError::InvalidCategory) }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LABEL_LEN && s.trim() == s && !s.chars().any(char::is_control)
}

/// Which ink a [`Category::Ink`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum InkOrigin {
    /// All ink consumed, whoever made it (Partner Link: "cartridge total ink consumed").
    All,
    /// Third-party ink only (Partner Link: "cartridge total non-HP ink consumed"), a part of
    /// [`InkOrigin::All`], so that a contract can price it differently or surcharge it.
    ThirdParty,
}

/// A billing category: one counter series per device, billed from its lifetime counter like
/// every other (segments, plausibility, late data, estimates).
///
/// Text form (CSV `category` column, CloudEvents, JSON keys of [`Terms::prices`](crate::Terms)):
///
/// | variant | text | unit | source (schema, Partner Link appendix A) |
/// |---|---|---|---|
/// | [`Meter`](Self::Meter) | the [`MeterKind`] text (`total`, `vendor:NAME`, `900`) | [`Unit::of`](crate::Unit::of) | `Snapshot::meters` |
/// | [`Ink`](Self::Ink), all | `ink:COLOUR` (`ink:cyan`) | nanolitres | `InkCartridge::ink_consumed`, summed per colour |
/// | [`Ink`](Self::Ink), third-party | `ink_third_party:COLOUR` | nanolitres | `InkCartridge::third_party_ink_consumed` |
/// | [`MediaArea`](Self::MediaArea) | `media_area:TYPE` (`media_area:bond`) | mm² | `MediaTypeUsage::area` |
/// | [`MediaLength`](Self::MediaLength) | `media_length:TYPE` (`media_length:bond`) | µm | `MediaTypeUsage::length` (a printfleet extension of appendix A) |
/// | [`ApplicationArea`](Self::ApplicationArea) | `app_area:CATEGORY` | mm² | `ApplicationCategoryUsage::media_area` |
/// | [`ApplicationLength`](Self::ApplicationLength) | `app_length:CATEGORY` | µm | `ApplicationCategoryUsage::media_length` |
///
/// `COLOUR` is the schema's [`Colour::name`] (`light_cyan`, or the device's text for another
/// colour). The meter-kind texts never contain these prefixes, so every category has one text
/// and a saved state or terms written before the other variants existed read back unchanged.
///
/// ```
/// use printfleet_meter::{Category, InkOrigin, Unit};
/// use printfleet_schema::{Colour, MeterKind};
/// let cyan: Category = "ink:cyan".parse()?;
/// assert_eq!(cyan, Category::Ink { colour: Colour::Cyan, origin: InkOrigin::All });
/// assert_eq!(Unit::of(&cyan), Unit::Nanolitres);
/// assert_eq!("total".parse::<Category>()?, Category::from(MeterKind::TOTAL));
/// assert_eq!("media_area:Photo Gloss".parse::<Category>()?.to_string(), "media_area:Photo Gloss");
/// assert!("media_area:".parse::<Category>().is_err());
/// # Ok::<(), printfleet_meter::MeterError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Category {
    /// A meter the schema knows: pages by colour mode and service, sheets, area, length, or a
    /// vendor meter.
    Meter(MeterKind),
    /// Ink of one colour, in nanolitres: the sum over the device's cartridges of that colour of
    /// what each consumed. A cartridge swap lowers the sum and starts a new segment, so a
    /// replacement's earlier consumption is never billed; the third-party series of the same
    /// colour starts a new segment at the same read, even if its own sum did not go down (a
    /// genuine cartridge replaced by a used third-party one).
    Ink {
        /// The colour (normalised: [`Colour::is_normalised`]).
        colour: Colour,
        /// All ink, or third-party ink only.
        origin: InkOrigin,
    },
    /// Media area of one media type, in mm² (large-format "total area used of this media type").
    MediaArea(Label),
    /// Media length of one media type, in µm: roll media billed per linear metre per media
    /// type (`MediaTypeUsage::length`, which printfleet adds to Partner Link's usage record).
    MediaLength(Label),
    /// Media area used by plots of one application category (CAD, GIS, poster...), in mm².
    ApplicationArea(Label),
    /// Media length used by plots of one application category, in µm.
    ApplicationLength(Label),
}

const INK: &str = "ink:";
const INK_THIRD_PARTY: &str = "ink_third_party:";
const MEDIA_AREA: &str = "media_area:";
const MEDIA_LENGTH: &str = "media_length:";
const APP_AREA: &str = "app_area:";
const APP_LENGTH: &str = "app_length:";

impl Category {
    /// All impressions (the meter `total`).
    pub const TOTAL: Self = Self::Meter(MeterKind::TOTAL);

    /// Ink of `colour`, all origins.
    pub fn ink(colour: Colour) -> Self {
        Self::Ink { colour, origin: InkOrigin::All }
    }

    /// Third-party ink of `colour`.
    pub fn ink_third_party(colour: Colour) -> Self {
        Self::Ink { colour, origin: InkOrigin::ThirdParty }
    }

    /// Checks what a caller may have built by hand: an ink colour is normalised and its name
    /// a valid label (labels are checked on construction).
    pub fn check(&self) -> Result<(), MeterError> {
        match self {
            Self::Ink { colour, .. } if !colour.is_normalised() || !valid_text(colour.name()) => {
                Err(MeterError::InvalidCategory)
            }
            _ => Ok(()),
        }
    }

    /// The meter kind, for a [`Category::Meter`].
    pub fn meter_kind(&self) -> Option<&MeterKind> {
        match self {
            Self::Meter(kind) => Some(kind),
            _ => None,
        }
    }
}

impl From<MeterKind> for Category {
    fn from(kind: MeterKind) -> Self {
        Self::Meter(kind)
    }
}

impl From<&MeterKind> for Category {
    fn from(kind: &MeterKind) -> Self {
        Self::Meter(kind.clone())
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Meter(kind) => fmt::Display::fmt(kind, f),
            Self::Ink { colour, origin: InkOrigin::All } => write!(f, "{INK}{}", colour.name()),
            Self::Ink { colour, origin: InkOrigin::ThirdParty } => write!(f, "{INK_THIRD_PARTY}{}", colour.name()),
            Self::MediaArea(l) => write!(f, "{MEDIA_AREA}{l}"),
            Self::MediaLength(l) => write!(f, "{MEDIA_LENGTH}{l}"),
            Self::ApplicationArea(l) => write!(f, "{APP_AREA}{l}"),
            Self::ApplicationLength(l) => write!(f, "{APP_LENGTH}{l}"),
        }
    }
}

impl FromStr for Category {
    type Err = MeterError;
    fn from_str(s: &str) -> Result<Self, MeterError> {
        let ink = |name: &str, origin| {
            let colour = Colour::parse(name);
            let c = Self::Ink { colour, origin };
            c.check().map(|()| c)
        };
        if let Some(rest) = s.strip_prefix(INK) {
            return ink(rest, InkOrigin::All);
        }
        if let Some(rest) = s.strip_prefix(INK_THIRD_PARTY) {
            return ink(rest, InkOrigin::ThirdParty);
        }
        if let Some(rest) = s.strip_prefix(MEDIA_AREA) {
            return Label::new(rest).map(Self::MediaArea);
        }
        if let Some(rest) = s.strip_prefix(MEDIA_LENGTH) {
            return Label::new(rest).map(Self::MediaLength);
        }
        if let Some(rest) = s.strip_prefix(APP_AREA) {
            return Label::new(rest).map(Self::ApplicationArea);
        }
        if let Some(rest) = s.strip_prefix(APP_LENGTH) {
            return Label::new(rest).map(Self::ApplicationLength);
        }
        s.parse::<MeterKind>().map(Self::Meter).map_err(|_| MeterError::InvalidCategory)
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Category;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a billing category such as \"total\" or \"ink:cyan\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Category, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_rejects_bad_labels() {
        let all = [
            Category::TOTAL,
            Category::Meter(MeterKind::AREA_MM2),
            "vendor:hp.x".parse().unwrap(),
            Category::ink(Colour::LightCyan),
            Category::ink_third_party(Colour::Other("chromatic red".into())),
            Category::MediaArea(Label::new("Photo Gloss").unwrap()),
            Category::MediaLength(Label::new("Photo Gloss").unwrap()),
            Category::ApplicationArea(Label::new("cad").unwrap()),
            Category::ApplicationLength(Label::new("gis:v2").unwrap()),
        ];
        for c in &all {
            assert_eq!(c.to_string().parse::<Category>().as_ref(), Ok(c), "{c}");
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(&serde_json::from_str::<Category>(&json).unwrap(), c);
        }
        assert_eq!(all[3].to_string(), "ink:light_cyan");
        assert_eq!(all[4].to_string(), "ink_third_party:chromatic red");
        assert_eq!(all[6].to_string(), "media_length:Photo Gloss");
        for bad in [
            "media_area:",
            "media_length:",
            "media_length:bond ",
            "app_area: cad",
            "app_length:a\nb",
            "ink:",
            "nonsense",
            "vendor:",
        ] {
            assert_eq!(bad.parse::<Category>(), Err(MeterError::InvalidCategory), "{bad:?}");
        }
        assert!(Label::new(&"x".repeat(MAX_LABEL_LEN + 1)).is_err());
        assert_eq!(Category::ink(Colour::Other("Cyan".into())).check(), Err(MeterError::InvalidCategory));
    }
}
