"""User geographies and the latency model (design section 5)."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0

# geo -> (city, latitude, longitude)
GEOS: dict[str, tuple[str, float, float]] = {
    "us-east": ("New York", 40.71, -74.01),
    "us-central": ("Chicago", 41.88, -87.63),
    "us-west": ("San Francisco", 37.77, -122.42),
    "canada": ("Toronto", 43.65, -79.38),
    "brazil": ("Sao Paulo", -23.55, -46.63),
    "uk": ("London", 51.51, -0.13),
    "eu-west": ("Paris", 48.86, 2.35),
    "eu-central": ("Frankfurt", 50.11, 8.68),
    "nordics": ("Stockholm", 59.33, 18.07),
    "india": ("Mumbai", 19.08, 72.88),
    "singapore": ("Singapore", 1.35, 103.82),
    "japan": ("Tokyo", 35.68, 139.69),
    "korea": ("Seoul", 37.57, 126.98),
    "australia": ("Sydney", -33.87, 151.21),
}

# Continent of each geo, used for geo routing (design section 9).
GEO_CONTINENT: dict[str, str] = {
    "us-east": "North America",
    "us-central": "North America",
    "us-west": "North America",
    "canada": "North America",
    "brazil": "South America",
    "uk": "Europe",
    "eu-west": "Europe",
    "eu-central": "Europe",
    "nordics": "Europe",
    "india": "Asia",
    "singapore": "Asia",
    "japan": "Asia",
    "korea": "Asia",
    "australia": "Oceania",
}


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def modelled_rtt_ms(km: float) -> float:
    """Round-trip time from distance: a fixed 5 ms plus 0.0125 ms per km."""
    return 5.0 + 0.0125 * km


def rtt_ms(geo: str, region, measured: dict[tuple[str, str], float] | None = None) -> float:
    """RTT from user geo to a catalog `Region`; a measured value overrides the model."""
    if measured and (geo, region.key) in measured:
        return measured[(geo, region.key)]
    _, lat, lon = GEOS[geo]
    return modelled_rtt_ms(great_circle_km(lat, lon, region.latitude, region.longitude))
