"""Breakpoint tables, categories, colours and health advice of VN_AQI (1459/QĐ-TCMT) and the US EPA AQI (2024)."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

# Order matters: it is the dominant-pollutant tie-break order (project convention 6).
POLLUTANTS: tuple[str, ...] = ("pm25", "pm10", "o3", "no2", "so2", "co")
PM_POLLUTANTS: tuple[str, ...] = ("pm25", "pm10")
SCHEMES: tuple[str, ...] = ("vn", "us")

# US EPA gases are tabulated in ppm/ppb; VN uses µg/m³. Conversion at 25 °C, 1 atm (reference §4.1).
MOLAR_VOLUME_L = Fraction("24.45")
MOLECULAR_WEIGHT: dict[str, Fraction] = {
    "o3": Fraction("48.00"), "no2": Fraction("46.01"), "so2": Fraction("64.07"), "co": Fraction("28.01"),
}


def ugm3_to_ppb(pollutant: str) -> Fraction:
    """Factor that turns µg/m³ of a gas into ppb at 25 °C (ppb = µg/m³ × 24.45 / MW)."""
    return MOLAR_VOLUME_L / MOLECULAR_WEIGHT[pollutant]


@dataclass(frozen=True)
class Segment:
    """One band of a breakpoint table: concentrations c_lo..c_hi map linearly onto i_lo..i_hi."""

    c_lo: Fraction
    c_hi: Fraction
    i_lo: int
    i_hi: int


@dataclass(frozen=True)
class BreakpointTable:
    """Breakpoints of one pollutant and averaging period in one scheme.

    ``from_ugm3`` converts µg/m³ into the table's unit; ``truncate`` is the number of decimals the EPA keeps
    before interpolating (None: VN, no truncation); ``above_top`` is "cap" (500 and a beyond-scale flag) or
    "undefined" (no sub-index, e.g. O3 8-h above its last row). Below the first row there is no sub-index.
    """

    scheme: str
    pollutant: str
    period: str
    unit: str
    segments: tuple[Segment, ...]
    above_top: str = "cap"
    truncate: int | None = None
    from_ugm3: Fraction = Fraction(1)

    @property
    def bottom(self) -> Fraction:
        """Lowest concentration that has a sub-index."""
        return self.segments[0].c_lo

    @property
    def top(self) -> Fraction:
        """Highest tabulated concentration; above it the sub-index is capped or undefined."""
        return self.segments[-1].c_hi


def _continuous(scheme: str, pollutant: str, period: str, unit: str, conc: tuple[str, ...],
                index: tuple[int, ...], above_top: str = "cap") -> BreakpointTable:
    # VN breakpoints are continuous: each band starts where the previous one ends (reference §2.4).
    points = [Fraction(c) for c in conc]
    segments = tuple(Segment(points[k], points[k + 1], index[k], index[k + 1]) for k in range(len(points) - 1))
    return BreakpointTable(scheme, pollutant, period, unit, segments, above_top)


def _banded(pollutant: str, period: str, unit: str, bands: tuple[tuple[str, str, int, int], ...],
            truncate: int, from_ugm3: Fraction, above_top: str = "cap") -> BreakpointTable:
    segments = tuple(Segment(Fraction(lo), Fraction(hi), i_lo, i_hi) for lo, hi, i_lo, i_hi in bands)
    return BreakpointTable("us", pollutant, period, unit, segments, above_top, truncate, from_ugm3)


_VN_INDEX = (0, 50, 100, 150, 200, 300, 400, 500)

# Bảng 2 of 1459/QĐ-TCMT, µg/m³ (CO included). Row 8 is written "≥": it is the top of the scale.
VN_TABLES: dict[tuple[str, str], BreakpointTable] = {
    ("o3", "1h"): _continuous("vn", "o3", "1h", "ug/m3",
                              ("0", "160", "200", "300", "400", "800", "1000", "1200"), _VN_INDEX),
    # The O3 8-h column stops at 400 µg/m³ (I = 300); above it the 8-h sub-index is not computed (§2.8).
    ("o3", "8h"): _continuous("vn", "o3", "8h", "ug/m3",
                              ("0", "100", "120", "170", "210", "400"), _VN_INDEX[:6], above_top="undefined"),
    ("co", "1h"): _continuous("vn", "co", "1h", "ug/m3",
                              ("0", "10000", "30000", "45000", "60000", "90000", "120000", "150000"), _VN_INDEX),
    ("so2", "1h"): _continuous("vn", "so2", "1h", "ug/m3",
                               ("0", "125", "350", "550", "800", "1600", "2100", "2630"), _VN_INDEX),
    ("no2", "1h"): _continuous("vn", "no2", "1h", "ug/m3",
                               ("0", "100", "200", "700", "1200", "2350", "3100", "3850"), _VN_INDEX),
    # The PM columns serve both the NowCast (hourly) and the 24-h mean (daily).
    ("pm10", "24h"): _continuous("vn", "pm10", "24h", "ug/m3",
                                 ("0", "50", "150", "250", "350", "420", "500", "600"), _VN_INDEX),
    ("pm25", "24h"): _continuous("vn", "pm25", "24h", "ug/m3",
                                 ("0", "25", "50", "80", "150", "250", "350", "500"), _VN_INDEX),
}

_PPB = {gas: ugm3_to_ppb(gas) for gas in MOLECULAR_WEIGHT}
_PPM = {gas: factor / 1000 for gas, factor in _PPB.items()}

# US EPA AQI with the 2024 PM2.5 revision (89 FR 16202). Gas rows are UNCONFIRMED against TAD 2024 (§4.1).
US_TABLES: dict[tuple[str, str], BreakpointTable] = {
    ("pm25", "24h"): _banded("pm25", "24h", "ug/m3", (
        ("0.0", "9.0", 0, 50), ("9.1", "35.4", 51, 100), ("35.5", "55.4", 101, 150),
        ("55.5", "125.4", 151, 200), ("125.5", "225.4", 201, 300), ("225.5", "325.4", 301, 500)),
        truncate=1, from_ugm3=Fraction(1)),
    ("pm10", "24h"): _banded("pm10", "24h", "ug/m3", (
        ("0", "54", 0, 50), ("55", "154", 51, 100), ("155", "254", 101, 150),
        ("255", "354", 151, 200), ("355", "424", 201, 300), ("425", "604", 301, 500)),
        truncate=0, from_ugm3=Fraction(1)),
    # Above 0.200 ppm the EPA uses the 1-h O3 table instead ("use 1-h").
    ("o3", "8h"): _banded("o3", "8h", "ppm", (
        ("0.000", "0.054", 0, 50), ("0.055", "0.070", 51, 100), ("0.071", "0.085", 101, 150),
        ("0.086", "0.105", 151, 200), ("0.106", "0.200", 201, 300)),
        truncate=3, from_ugm3=_PPM["o3"], above_top="undefined"),
    # Below 0.125 ppm 1-h O3 defines no AQI; the 8-h value does.
    ("o3", "1h"): _banded("o3", "1h", "ppm", (
        ("0.125", "0.164", 101, 150), ("0.165", "0.204", 151, 200),
        ("0.205", "0.404", 201, 300), ("0.405", "0.604", 301, 500)),
        truncate=3, from_ugm3=_PPM["o3"]),
    ("co", "8h"): _banded("co", "8h", "ppm", (
        ("0.0", "4.4", 0, 50), ("4.5", "9.4", 51, 100), ("9.5", "12.4", 101, 150),
        ("12.5", "15.4", 151, 200), ("15.5", "30.4", 201, 300), ("30.5", "50.4", 301, 500)),
        truncate=1, from_ugm3=_PPM["co"]),
    # The EPA defines the two top SO2 rows on 24-h means; this table applies them, as tabulated in reference
    # §4.1, to the 1-h value. A simplification: the EPA's 24-h SO2 rule above 304 ppb is not implemented.
    ("so2", "1h"): _banded("so2", "1h", "ppb", (
        ("0", "35", 0, 50), ("36", "75", 51, 100), ("76", "185", 101, 150),
        ("186", "304", 151, 200), ("305", "604", 201, 300), ("605", "1004", 301, 500)),
        truncate=0, from_ugm3=_PPB["so2"]),
    ("no2", "1h"): _banded("no2", "1h", "ppb", (
        ("0", "53", 0, 50), ("54", "100", 51, 100), ("101", "360", 101, 150),
        ("361", "649", 151, 200), ("650", "1249", 201, 300), ("1250", "2049", 301, 500)),
        truncate=0, from_ugm3=_PPB["no2"]),
}

TABLES: dict[str, dict[tuple[str, str], BreakpointTable]] = {"vn": VN_TABLES, "us": US_TABLES}


@dataclass(frozen=True)
class Category:
    """One AQI band with its names, official colour and (VN only) health effect and advice texts."""

    scheme: str
    low: int
    high: int
    name_vi: str
    name_en: str
    colour_vi: str
    colour_en: str
    rgb: tuple[int, int, int]
    health_vi: str | None = None
    health_en: str | None = None
    advice_general_vi: str | None = None
    advice_general_en: str | None = None
    advice_sensitive_vi: str | None = None
    advice_sensitive_en: str | None = None

    @property
    def rgb_text(self) -> str:
        """RGB as written in the decision and the vectors, e.g. ``0;228;0``."""
        return ";".join(str(part) for part in self.rgb)

    @property
    def hex(self) -> str:
        """Hex colour derived from the official RGB triple."""
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


# Bảng 1, 4 and 5 of 1459 (reference §2.3). The Vietnamese texts paraphrase the decision; copy the verbatim
# strings from the signed text (S1) before publishing them to the public.
VN_CATEGORIES: tuple[Category, ...] = (
    Category("vn", 0, 50, "Tốt", "Good", "Xanh", "Green", (0, 228, 0),
             "Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe.",
             "Air quality is good; no effect on health.",
             "Tự do thực hiện các hoạt động ngoài trời.",
             "Enjoy outdoor activities freely.",
             "Tự do thực hiện các hoạt động ngoài trời.",
             "Enjoy outdoor activities freely."),
    Category("vn", 51, 100, "Trung bình", "Moderate", "Vàng", "Yellow", (255, 255, 0),
             "Chất lượng không khí ở mức chấp nhận được; người nhạy cảm (người cao tuổi, trẻ em, người mắc "
             "bệnh hô hấp hoặc tim mạch) có thể chịu một số ảnh hưởng.",
             "Air quality is acceptable; sensitive people (the elderly, children, people with respiratory or "
             "cardiovascular disease) may feel some effect.",
             "Có thể hoạt động ngoài trời bình thường.",
             "Outdoor activities as usual.",
             "Vẫn có thể ra ngoài trời, nhưng nên để ý các triệu chứng như ho hoặc khó thở.",
             "You may still go outside, but watch for symptoms such as coughing or shortness of breath."),
    Category("vn", 101, 150, "Kém", "Poor", "Da cam", "Orange", (255, 126, 0),
             "Người nhạy cảm gặp vấn đề về sức khỏe; người bình thường ít bị ảnh hưởng.",
             "Sensitive people have health problems; ordinary people are little affected.",
             "Người thấy đau mắt, ho hoặc đau họng nên cân nhắc giảm hoạt động ngoài trời; học sinh vẫn có thể "
             "ở ngoài trời nhưng nên giảm các bài tập thể dục kéo dài.",
             "People with sore eyes, a cough or a sore throat should consider cutting outdoor activity; pupils "
             "may stay outdoors but should cut prolonged exercise.",
             "Nên giảm các hoạt động gắng sức và thời gian ở ngoài trời; người bị hen suyễn có thể cần dùng "
             "thuốc thường xuyên hơn.",
             "Cut strenuous activity and time outdoors; people with asthma may need their medicine more often."),
    Category("vn", 151, 200, "Xấu", "Bad", "Đỏ", "Red", (255, 0, 0),
             "Người bình thường bắt đầu bị ảnh hưởng tới sức khỏe; nhóm nhạy cảm bị ảnh hưởng nghiêm trọng hơn.",
             "Ordinary people begin to be affected; sensitive groups more seriously.",
             "Nên giảm hoạt động gắng sức ngoài trời, tránh tập luyện kéo dài và nghỉ ngơi trong nhà nhiều hơn.",
             "Cut strenuous outdoor activity, avoid prolonged exercise and rest indoors more.",
             "Nên ở trong nhà và giảm hoạt động gắng sức; nếu buộc phải ra ngoài, hãy đeo khẩu trang đạt "
             "tiêu chuẩn.",
             "Stay indoors and cut strenuous activity; wear a standard-compliant mask if you must go out."),
    Category("vn", 201, 300, "Rất xấu", "Very bad", "Tím", "Purple", (143, 63, 151),
             "Cảnh báo sức khỏe: mọi người đều bị ảnh hưởng nghiêm trọng hơn.",
             "Health warning: everyone is affected more seriously.",
             "Hạn chế tối đa hoạt động ngoài trời và chuyển các hoạt động vào trong nhà; nếu buộc phải ra "
             "ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
             "Keep outdoor activity to a minimum and move activities indoors; wear a standard-compliant mask "
             "if you must go out.",
             "Nên ở trong nhà và giảm hoạt động gắng sức.",
             "Stay indoors and cut strenuous activity."),
    # Bảng 5 merges the two groups into one cell for this band.
    Category("vn", 301, 500, "Nguy hại", "Hazardous", "Nâu", "Maroon", (126, 0, 35),
             "Báo động khẩn cấp về sức khỏe: toàn bộ dân số bị ảnh hưởng nghiêm trọng.",
             "Health emergency: the whole population is seriously affected.",
             "Mọi người nên ở trong nhà, đóng kín cửa ra vào và cửa sổ; nếu buộc phải ra ngoài, hãy đeo khẩu "
             "trang đạt tiêu chuẩn.",
             "Everyone should stay indoors with doors and windows shut and wear a standard-compliant mask if "
             "they must go out.",
             "Mọi người nên ở trong nhà, đóng kín cửa ra vào và cửa sổ; nếu buộc phải ra ngoài, hãy đeo khẩu "
             "trang đạt tiêu chuẩn.",
             "Everyone should stay indoors with doors and windows shut and wear a standard-compliant mask if "
             "they must go out."),
)

# EPA names and colours (reference §4.1). No advice texts: the reference gives none for the US scheme.
US_CATEGORIES: tuple[Category, ...] = (
    Category("us", 0, 50, "Tốt", "Good", "Xanh", "Green", (0, 228, 0)),
    Category("us", 51, 100, "Trung bình", "Moderate", "Vàng", "Yellow", (255, 255, 0)),
    Category("us", 101, 150, "Không tốt cho nhóm nhạy cảm", "Unhealthy for Sensitive Groups", "Da cam",
             "Orange", (255, 126, 0)),
    Category("us", 151, 200, "Có hại cho sức khỏe", "Unhealthy", "Đỏ", "Red", (255, 0, 0)),
    Category("us", 201, 300, "Rất có hại cho sức khỏe", "Very Unhealthy", "Tím", "Purple", (143, 63, 151)),
    Category("us", 301, 500, "Nguy hại", "Hazardous", "Nâu", "Maroon", (126, 0, 35)),
)

CATEGORIES: dict[str, tuple[Category, ...]] = {"vn": VN_CATEGORIES, "us": US_CATEGORIES}
