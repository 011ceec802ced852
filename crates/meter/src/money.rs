//! Exact money and quantities: integers only.
//!
//! # The rounding rule
//! A line's amount is `quantity × price.minor / price.per` computed exactly (128-bit), then
//! rounded **once, per line, half to even** (banker's rounding) to whole minor units. The
//! invoice total is the sum of the rounded lines, so the lines always add up to the total
//! exactly; nothing is ever rounded twice.

use core::fmt;
use core::num::NonZeroU64;

use printfleet_schema::MeterKind;
use printfleet_schema::codes::MeterCode;
use serde::{Deserialize, Serialize};

use crate::{Category, MeterError};

/// A quantity of a category, in the category's [`Unit`]. Never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantity(pub u64);

/// A signed change of a quantity: the quantity of a usage line (never negative) or of a
/// correction or adjustment line (negative when less than was billed before).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuantityDelta(pub i64);

/// An amount of money in the invoice currency's minor unit (cents for EUR, yen for JPY).
/// Never negative: a credit is a line whose amount subtracts
/// ([`InvoiceLine::signed_amount`](crate::InvoiceLine::signed_amount)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MinorUnits(pub u64);

impl MinorUnits {
    /// The sum, or [`MeterError::Overflow`].
    pub fn checked_add(self, other: Self) -> Result<Self, MeterError> {
        self.0.checked_add(other.0).map(Self).ok_or(MeterError::Overflow)
    }
}

/// An ISO 4217 currency: its alphabetic code and the number of digits of its minor unit.
///
/// ```
/// use printfleet_meter::Currency;
/// assert_eq!(Currency::EUR.code(), "EUR");
/// assert_eq!(Currency::JPY.minor_digits(), 0);
/// assert!(Currency::new("eur", 2).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "CurrencyRepr", into = "CurrencyRepr")]
pub struct Currency {
    code: [u8; 3],
    minor_digits: u8,
}

#[derive(Serialize, Deserialize)]
struct CurrencyRepr {
    code: String,
    minor_digits: u8,
}

impl TryFrom<CurrencyRepr> for Currency {
    type Error = MeterError;
    fn try_from(r: CurrencyRepr) -> Result<Self, MeterError> {
        Self::new(&r.code, r.minor_digits)
    }
}

impl From<Currency> for CurrencyRepr {
    fn from(c: Currency) -> Self {
        Self { code: c.code().into(), minor_digits: c.minor_digits }
    }
}

impl Currency {
    /// Most minor-unit digits of any ISO 4217 currency (CLF, UYW have 4).
    pub const MAX_MINOR_DIGITS: u8 = 4;
    /// Euro, cents.
    pub const EUR: Self = Self { code: *b"EUR", minor_digits: 2 };
    /// US dollar, cents.
    pub const USD: Self = Self { code: *b"USD", minor_digits: 2 };
    /// Pound sterling, pence.
    pub const GBP: Self = Self { code: *b"GBP", minor_digits: 2 };
    /// Yen, no minor unit.
    pub const JPY: Self = Self { code: *b"JPY", minor_digits: 0 };

    /// A currency from its three upper-case letters and minor-unit digits (0 to 4).
    pub fn new(code: &str, minor_digits: u8) -> Result<Self, MeterError> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| MeterError::InvalidTerms { reason: "currency code must be three letters" })?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(MeterError::InvalidTerms { reason: "currency code must be upper-case letters" });
        }
        if minor_digits > Self::MAX_MINOR_DIGITS {
            return Err(MeterError::InvalidTerms { reason: "currency minor unit has at most 4 digits" });
        }
        Ok(Self { code: bytes, minor_digits })
    }

    /// The alphabetic code.
    pub fn code(&self) -> &str {
        // Checked to be ASCII upper-case letters on construction.
        core::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Digits of the minor unit (2: one hundredth).
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::EUR
    }
}

/// A price: `minor` minor units per `per` units of the category (0.8 cent per page is
/// `Price::new(8, 10)`, 25 cents per millilitre of ink is `Price::new(25, 1_000_000)` per nL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Price {
    /// Minor units charged per `per` units.
    pub minor: u64,
    /// How many units the price is for.
    pub per: NonZeroU64,
}

impl Price {
    /// `minor` minor units per `per` units; `per` must not be zero.
    pub fn new(minor: u64, per: u64) -> Result<Self, MeterError> {
        let per = NonZeroU64::new(per).ok_or(MeterError::InvalidTerms { reason: "price per zero units" })?;
        Ok(Self { minor, per })
    }

    /// The amount for `quantity`, rounded half to even (the crate's one rounding rule).
    pub fn amount(&self, quantity: Quantity) -> Result<MinorUnits, MeterError> {
        let exact = u128::from(quantity.0).checked_mul(u128::from(self.minor)).ok_or(MeterError::Overflow)?;
        let rounded = div_round_half_even(exact, u128::from(self.per.get()));
        u64::try_from(rounded).map(MinorUnits).map_err(|_| MeterError::Overflow)
    }
}

/// `n / d` rounded half to even; `d` is not zero.
pub(crate) fn div_round_half_even(n: u128, d: u128) -> u128 {
    let (Some(q), Some(r)) = (n.checked_div(d), n.checked_rem(d)) else { return 0 };
    // Compare 2r with d without overflow: r < d <= u128::MAX.
    let twice_r_cmp = r.cmp(&d.saturating_sub(r));
    let round_up = match twice_r_cmp {
        core::cmp::Ordering::Greater => true,
        core::cmp::Ordering::Less => false,
        core::cmp::Ordering::Equal => q % 2 == 1,
    };
    if round_up { q.saturating_add(1) } else { q }
}

/// The unit of a category's quantity.
///
/// The standard page meters count impressions, `duplex_sheets` counts sheets. A meter code this
/// version does not know, and every vendor meter, is in the unit its code or vendor defines:
/// [`Unit::AsCoded`]; a contract may name it ([`CategoryTerms::unit`](crate::CategoryTerms)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unit {
    /// Impressions (one side of a sheet).
    Impressions,
    /// Sheets.
    Sheets,
    /// Nanolitres of ink.
    Nanolitres,
    /// Square millimetres of media or scanned area.
    SquareMillimetres,
    /// Micrometres of media length.
    Micrometres,
    /// Millimetres of media length (the large-format length meter).
    Millimetres,
    /// Images: one side of an original, scanned or faxed.
    Images,
    /// The unit the meter code or vendor defines.
    AsCoded,
}

impl Unit {
    /// The unit of a category, as far as this version knows it: ink in nanolitres, media and
    /// application area in mm², media and application length in µm, meters as their code
    /// documents.
    pub fn of(category: &Category) -> Self {
        let kind = match category {
            Category::Meter(kind) => kind,
            Category::Ink { .. } => return Self::Nanolitres,
            Category::MediaArea(_) | Category::ApplicationArea(_) => return Self::SquareMillimetres,
            Category::MediaLength(_) | Category::ApplicationLength(_) => return Self::Micrometres,
        };
        match kind {
            MeterKind::Standard(code) if [MeterCode::DUPLEX_SHEETS, MeterCode::SHEETS].contains(code) => Self::Sheets,
            MeterKind::Standard(code) if *code == MeterCode::AREA_MM2 => Self::SquareMillimetres,
            MeterKind::Standard(code) if *code == MeterCode::LENGTH_MM => Self::Millimetres,
            MeterKind::Standard(code)
                if [MeterCode::SCANS, MeterCode::SCAN_MONO, MeterCode::SCAN_COLOUR, MeterCode::FAX_OUT]
                    .contains(code) =>
            {
                Self::Images
            }
            // Every other known code counts impressions (the schema documents each code's unit).
            MeterKind::Standard(code) if code.is_known() => Self::Impressions,
            _ => Self::AsCoded,
        }
    }

    /// The snake_case name used in exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Impressions => "impressions",
            Self::Sheets => "sheets",
            Self::Nanolitres => "nanolitres",
            Self::SquareMillimetres => "square_millimetres",
            Self::Micrometres => "micrometres",
            Self::Millimetres => "millimetres",
            Self::Images => "images",
            Self::AsCoded => "as_coded",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_even_rounds_ties_to_even() {
        assert_eq!(div_round_half_even(5, 2), 2); // 2.5 -> 2
        assert_eq!(div_round_half_even(7, 2), 4); // 3.5 -> 4
        assert_eq!(div_round_half_even(11, 4), 3); // 2.75 -> 3
        assert_eq!(div_round_half_even(9, 4), 2); // 2.25 -> 2
        assert_eq!(div_round_half_even(0, 3), 0);
        assert_eq!(div_round_half_even(u128::MAX, u128::MAX), 1);
        assert_eq!(Price::new(8, 10).unwrap().amount(Quantity(1_234)).unwrap(), MinorUnits(987)); // 987.2
        assert_eq!(Price::new(1, 2).unwrap().amount(Quantity(5)).unwrap(), MinorUnits(2)); // 2.5
        assert_eq!(Price::new(u64::MAX, 1).unwrap().amount(Quantity(2)), Err(MeterError::Overflow));
        assert!(Price::new(1, 0).is_err());
    }

    #[test]
    fn units_of_known_and_unknown_meters() {
        assert_eq!(Unit::of(&Category::from(MeterKind::TOTAL)), Unit::Impressions);
        assert_eq!(Unit::of(&Category::from(MeterKind::DUPLEX_SHEETS)), Unit::Sheets);
        assert_eq!(Unit::of(&Category::from(MeterKind::Standard(MeterCode::SHEETS))), Unit::Sheets);
        assert_eq!(Unit::of(&Category::from(MeterKind::Standard(MeterCode::AREA_MM2))), Unit::SquareMillimetres);
        assert_eq!(Unit::of(&Category::from(MeterKind::Standard(MeterCode::LENGTH_MM))), Unit::Millimetres);
        assert_eq!(Unit::of(&Category::from(MeterKind::Standard(MeterCode::SCAN_COLOUR))), Unit::Images);
        assert_eq!(Unit::of(&Category::from(MeterKind::Standard(MeterCode::PRINT_COLOUR))), Unit::Impressions);
        assert_eq!(Unit::of(&Category::from(MeterKind::Standard(MeterCode::from_code(9_999)))), Unit::AsCoded);
    }
}
