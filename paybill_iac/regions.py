"""Real region names of each cloud, so a typo in the catalog fails validation, not a deployment.

Kept in code on purpose: the list changes a few times a year and a review of this file is how a new
region becomes available to tenants.
"""

from __future__ import annotations

import difflib

CLOUDS = ("aws", "azure", "gcp", "oci")

CLOUD_TITLES = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "Oracle Cloud"}

REGIONS: dict[str, frozenset[str]] = {
    "aws": frozenset(
        """
        us-east-1 us-east-2 us-west-1 us-west-2 af-south-1 ap-east-1 ap-east-2 ap-south-1 ap-south-2
        ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ap-southeast-7
        ap-northeast-1 ap-northeast-2 ap-northeast-3 ca-central-1 ca-west-1 eu-central-1 eu-central-2
        eu-west-1 eu-west-2 eu-west-3 eu-south-1 eu-south-2 eu-north-1 il-central-1 me-south-1
        me-central-1 mx-central-1 sa-east-1 us-gov-east-1 us-gov-west-1
        """.split()
    ),
    "azure": frozenset(
        """
        eastus eastus2 southcentralus westus2 westus3 australiaeast southeastasia northeurope
        swedencentral uksouth westeurope centralus southafricanorth centralindia eastasia japaneast
        koreacentral canadacentral francecentral germanywestcentral italynorth norwayeast polandcentral
        spaincentral switzerlandnorth mexicocentral uaenorth brazilsouth israelcentral qatarcentral
        northcentralus westus westcentralus japanwest koreasouth southindia westindia canadaeast
        francesouth germanynorth norwaywest switzerlandwest ukwest uaecentral brazilsoutheast
        australiacentral australiasoutheast newzealandnorth austriaeast belgiumcentral
        """.split()
    ),
    "gcp": frozenset(
        """
        africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3
        asia-south1 asia-south2 asia-southeast1 asia-southeast2 australia-southeast1
        australia-southeast2 europe-central2 europe-north1 europe-north2 europe-southwest1 europe-west1
        europe-west2 europe-west3 europe-west4 europe-west6 europe-west8 europe-west9 europe-west10
        europe-west12 me-central1 me-central2 me-west1 northamerica-northeast1 northamerica-northeast2
        northamerica-south1 southamerica-east1 southamerica-west1 us-central1 us-east1 us-east4
        us-east5 us-south1 us-west1 us-west2 us-west3 us-west4
        """.split()
    ),
    "oci": frozenset(
        """
        af-johannesburg-1 ap-chuncheon-1 ap-hyderabad-1 ap-melbourne-1 ap-mumbai-1 ap-osaka-1
        ap-seoul-1 ap-singapore-1 ap-singapore-2 ap-sydney-1 ap-tokyo-1 ap-batam-1 ca-montreal-1
        ca-toronto-1 eu-amsterdam-1 eu-frankfurt-1 eu-madrid-1 eu-marseille-1 eu-milan-1 eu-paris-1
        eu-stockholm-1 eu-zurich-1 il-jerusalem-1 me-abudhabi-1 me-dubai-1 me-jeddah-1 me-riyadh-1
        mx-monterrey-1 mx-queretaro-1 sa-bogota-1 sa-santiago-1 sa-saopaulo-1 sa-valparaiso-1
        sa-vinhedo-1 uk-cardiff-1 uk-london-1 us-ashburn-1 us-chicago-1 us-phoenix-1 us-sanjose-1
        """.split()
    ),
}


def region_problem(cloud: str, region: str) -> str | None:
    """Why `region` is not a region of `cloud`, with the closest real name; None when it is one."""
    known = REGIONS[cloud]
    if region in known:
        return None
    close = difflib.get_close_matches(region, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"'{region}' is not a {CLOUD_TITLES[cloud]} region{hint}"
