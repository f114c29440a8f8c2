"""The fixed GraphQL documents sent to Tibber; values travel only as variables.

They are valid against ``wire.sdl()`` (a test checks). Field and argument names follow
Tibber's public schema (``viewer``, ``home(id:)``,
``currentSubscription``, ``priceInfo(resolution:)``, ``priceInfoRange(resolution:, first:,
after:)``). Every price query also asks for ``timeZone`` so home info stays fresh for free.
"""

from __future__ import annotations

__all__ = ["DETAILS", "HISTORY", "HOMES", "RECENT"]

HOMES = """
query PricepoolHomes {
  viewer {
    homes {
      id
      timeZone
      appNickname
      currentSubscription { priceInfo { current { currency } } }
    }
  }
}
"""

HISTORY = """
query PricepoolHistory(
  $homeId: ID!, $resolution: PriceInfoResolution!, $first: Int!, $after: String!
) {
  viewer {
    home(id: $homeId) {
      id
      timeZone
      currentSubscription {
        priceInfoRange(resolution: $resolution, first: $first, after: $after) {
          pageInfo { hasNextPage }
          edges { node { startsAt total energy tax level currency } }
        }
      }
    }
  }
}
"""

# One request for the day before yesterday through tomorrow: the range holds the two past
# days, priceInfo holds today and (once published, about midday) tomorrow. ``hourly`` is
# the fallback for an outage of the quarter-hourly prices (seen in May 2026: today and
# tomorrow empty while the hourly ones were there); it rides along so that the fallback
# costs no request.
RECENT = """
query PricepoolRecent($homeId: ID!, $first: Int!, $after: String!) {
  viewer {
    home(id: $homeId) {
      id
      timeZone
      currentSubscription {
        priceInfo(resolution: QUARTER_HOURLY) {
          today { startsAt total energy tax level currency }
          tomorrow { startsAt total energy tax level currency }
        }
        hourly: priceInfo(resolution: HOURLY) {
          today { startsAt total energy tax level currency }
          tomorrow { startsAt total energy tax level currency }
        }
        priceInfoRange(resolution: QUARTER_HOURLY, first: $first, after: $after) {
          pageInfo { hasNextPage }
          edges { node { startsAt total energy tax level currency } }
        }
      }
    }
  }
}
"""

_ADDRESS = "address1 address2 address3 city postalCode country latitude longitude"
_ENTITY = f"""id firstName isCompany name middleName lastName organizationNo language
        contactInfo {{ email mobile }} address {{ {_ADDRESS} }}"""
_SUBSCRIPTION = f"id validFrom validTo status statusReason subscriber {{ {_ENTITY} }}"

# Everything the schema says about the account and its homes except prices, in one request:
# the service keeps it and answers metadata questions without asking again.
DETAILS = f"""
query PricepoolDetails {{
  viewer {{
    login userId name accountType
    homes {{
      id timeZone appNickname appAvatar size type numberOfResidents primaryHeatingSource
      hasVentilationSystem mainFuseSize
      address {{ {_ADDRESS} }}
      owner {{ {_ENTITY} }}
      meteringPointData {{
        consumptionEan gridCompany gridAreaCode priceAreaCode productionEan energyTaxType
        vatType estimatedAnnualConsumption
      }}
      features {{ realTimeConsumptionEnabled }}
      currentSubscription {{ {_SUBSCRIPTION} }}
      subscriptions {{ {_SUBSCRIPTION} }}
    }}
  }}
}}
"""
