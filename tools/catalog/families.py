"""What an instance type is, independent of any price file.

`KNOWN` lists the GPU instance types of the shipped snapshot (`optimizer/data/offerings.csv`)
with their accelerator, GPU count, vCPUs and memory: the types a refresh looks up. A test keeps
it equal to the shipped snapshot. `family_gpus` states the accelerator and the GPU counts an
instance family allows, from the clouds' published instance shapes; `validate` uses it to catch a
row whose GPU count contradicts its type (the snapshot once had ND96isr_H100_v5 with 12 GPUs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    cloud: str
    instance_type: str
    accelerator: str
    count: int
    vcpus: int
    memory_gb: float


def _shapes(cloud: str, rows: str) -> dict[tuple[str, str], Shape]:
    out = {}
    for line in rows.strip().splitlines():
        name, acc, count, vcpus, mem = line.split()
        out[(cloud, name)] = Shape(cloud, name, acc, int(count), int(vcpus), float(mem))
    return out


KNOWN: dict[tuple[str, str], Shape] = {
    **_shapes(
        "aws",
        """
        g4dn.12xlarge     T4          4   48     192
        g4dn.xlarge       T4          1    4      16
        g5.12xlarge       A10G        4   48     192
        g5.48xlarge       A10G        8  192     768
        g5.xlarge         A10G        1    4      16
        g6.12xlarge       L4          4   48     192
        g6.xlarge         L4          1    4      16
        g6e.12xlarge      L40S        4   48     384
        g6e.48xlarge      L40S        8  192    1536
        g6e.xlarge        L40S        1    4      32
        gr6.4xlarge       L4          1   16     128
        p3dn.24xlarge     V100-32GB   8   96     768
        p4d.24xlarge      A100-40GB   8   96    1152
        p4de.24xlarge     A100-80GB   8   96    1152
        p5.4xlarge        H100        1   16     256
        p5.48xlarge       H100        8  192    2048
        p5en.48xlarge     H200        8  192    2048
        p6-b200.48xlarge  B200        8  192    2048
        p6-b300.48xlarge  B300        8  192    4096
        """,
    ),
    **_shapes(
        "azure",
        """
        Standard_NC4as_T4_v3        T4          1    4      28
        Standard_NC6s_v3            V100        1    6     112
        Standard_NC8as_T4_v3        T4          1    8      56
        Standard_NC12s_v3           V100        2   12     224
        Standard_NC16as_T4_v3       T4          1   16     110
        Standard_NC24ads_A100_v4    A100-80GB   1   24     220
        Standard_NC24rs_v3          V100        4   24     448
        Standard_NC24s_v3           V100        4   24     448
        Standard_NC40ads_H100_v5    H100-NVL    1   40     320
        Standard_NC48ads_A100_v4    A100-80GB   2   48     440
        Standard_NC64as_T4_v3       T4          4   64     440
        Standard_NC80adis_H100_v5   H100-NVL    2   80     640
        Standard_NC96ads_A100_v4    A100-80GB   4   96     880
        Standard_NCC40ads_H100_v5   H100-NVL    1   40     320
        Standard_ND40rs_v2          V100-32GB   8   40     672
        Standard_ND96amsr_A100_v4   A100-80GB   8   96    1800
        Standard_ND96asr_v4         A100-40GB   8   96     900
        Standard_ND96isr_H100_v5    H100        8   96    1900
        Standard_ND96isr_H200_v5    H200        8   96    1850
        Standard_ND96isr_MI300X_v5  MI300X      8   96    1850
        Standard_NV36adms_A10_v5    A10         1   36     880
        Standard_NV36ads_A10_v5     A10         1   36     440
        Standard_NV72ads_A10_v5     A10         2   72     880
        """,
    ),
    **_shapes(
        "gcp",
        """
        a2-highgpu-1g   A100-40GB   1   12      85
        a2-highgpu-2g   A100-40GB   2   24     170
        a2-highgpu-4g   A100-40GB   4   48     340
        a2-highgpu-8g   A100-40GB   8   96     680
        a2-megagpu-16g  A100-40GB  16   96    1360
        a2-ultragpu-1g  A100-80GB   1   12     170
        a2-ultragpu-2g  A100-80GB   2   24     340
        a2-ultragpu-4g  A100-80GB   4   48     680
        a2-ultragpu-8g  A100-80GB   8   96    1360
        a3-edgegpu-8g   H100        8  208    1872
        a3-highgpu-1g   H100        1   26     234
        a3-highgpu-2g   H100        2   52     468
        a3-highgpu-4g   H100        4  104     936
        a3-highgpu-8g   H100        8  208    1872
        a3-megagpu-8g   H100        8  208    1872
        a3-ultragpu-8g  H200        8  224    2952
        g2-standard-4   L4          1    4      16
        g2-standard-8   L4          1    8      32
        g2-standard-12  L4          1   12      48
        g2-standard-16  L4          1   16      64
        g2-standard-24  L4          2   24      96
        g2-standard-32  L4          1   32     128
        g2-standard-48  L4          4   48     192
        g2-standard-96  L4          8   96     384
        n1-standard-8   T4          1    8      30
        """,
    ),
}

# AWS: family -> accelerator, and GPU count by size (published instance shapes).
_AWS_SINGLE = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1}
_AWS = {
    "g4dn": ("T4", {**_AWS_SINGLE, "12xlarge": 4, "metal": 8}),
    "g5": ("A10G", {**_AWS_SINGLE, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    "g6": ("L4", {**_AWS_SINGLE, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    "g6e": ("L40S", {**_AWS_SINGLE, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    "p4d": ("A100-40GB", {"24xlarge": 8}),
    "p4de": ("A100-80GB", {"24xlarge": 8}),
    "gr6": ("L4", {"4xlarge": 1, "8xlarge": 1}),
    "p3": ("V100", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "p3dn": ("V100-32GB", {"24xlarge": 8}),
    "p5": ("H100", {"4xlarge": 1, "48xlarge": 8}),
    "p5e": ("H200", {"48xlarge": 8}),
    "p5en": ("H200", {"48xlarge": 8}),
    "p6-b200": ("B200", {"48xlarge": 8}),
    "p6-b300": ("B300", {"48xlarge": 8}),
}
# Azure: the GPU sizes tricloud's accelerators come in (name -> accelerator, count).
_AZURE = {
    "Standard_NC4as_T4_v3": ("T4", 1),
    "Standard_NC8as_T4_v3": ("T4", 1),
    "Standard_NC16as_T4_v3": ("T4", 1),
    "Standard_NC64as_T4_v3": ("T4", 4),
    "Standard_NC24ads_A100_v4": ("A100-80GB", 1),
    "Standard_NC48ads_A100_v4": ("A100-80GB", 2),
    "Standard_NC96ads_A100_v4": ("A100-80GB", 4),
    "Standard_ND96asr_v4": ("A100-40GB", 8),
    "Standard_ND96amsr_A100_v4": ("A100-80GB", 8),
    # H100 NVL: 94 GB per GPU, not the 80 GB SXM part of the ND sizes.
    "Standard_NC40ads_H100_v5": ("H100-NVL", 1),
    "Standard_NC80adis_H100_v5": ("H100-NVL", 2),
    "Standard_NCC40ads_H100_v5": ("H100-NVL", 1),
    "Standard_ND96isr_H100_v5": ("H100", 8),
    "Standard_ND96isr_H200_v5": ("H200", 8),
    "Standard_ND96isr_MI300X_v5": ("MI300X", 8),
    "Standard_NV36ads_A10_v5": ("A10", 1),
    "Standard_NV36adms_A10_v5": ("A10", 1),
    "Standard_NV72ads_A10_v5": ("A10", 2),
    "Standard_NC6s_v3": ("V100", 1),
    "Standard_NC12s_v3": ("V100", 2),
    "Standard_NC24s_v3": ("V100", 4),
    "Standard_NC24rs_v3": ("V100", 4),
    "Standard_ND40rs_v2": ("V100-32GB", 8),
}
_GCP_SUFFIX = re.compile(
    r"^(a2-highgpu|a2-megagpu|a2-ultragpu|a3-highgpu|a3-edgegpu|a3-megagpu|a3-ultragpu"
    r"|a4-highgpu)-(\d+)g$"
)
_GCP_FAMILY_ACC = {
    "a2-highgpu": "A100-40GB",
    "a2-megagpu": "A100-40GB",
    "a2-ultragpu": "A100-80GB",
    "a3-highgpu": "H100",
    "a3-edgegpu": "H100",
    "a3-megagpu": "H100",  # the same H100 80 GB; GKE names its accelerator nvidia-h100-mega-80gb
    "a3-ultragpu": "H200",
    "a4-highgpu": "B200",
}
_G2 = {4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8}
# GPUs attachable to N1 machines, as tricloud knows them (T4 in 1, 2 or 4).
_N1_ATTACHED = ("T4", (1, 2, 4))


# Families the importer leaves out although the source gives them a whole GPU count.
UNCERTAIN_GPU_SHARE = {
    "Standard_NCads_A10_v4": (
        "GPU share per size not certain (the price scales with vCPUs, 1 A10 on the 8- and the "
        "16-vCPU size: GPU partitions?)"
    ),
}


def family_gpus(cloud: str, instance_type: str) -> tuple[str, tuple[int, ...]] | None:
    """(accelerator, allowed GPU counts) the instance type's family implies; None if unknown."""
    if cloud == "aws":
        family, _, size = instance_type.partition(".")
        if family in _AWS and size in _AWS[family][1]:
            return _AWS[family][0], (_AWS[family][1][size],)
        return None
    if cloud == "azure":
        if instance_type in _AZURE:
            acc, n = _AZURE[instance_type]
            return acc, (n,)
        return None
    if cloud == "gcp":
        m = _GCP_SUFFIX.match(instance_type)
        if m:
            return _GCP_FAMILY_ACC[m.group(1)], (int(m.group(2)),)
        m = re.match(r"^g2-standard-(\d+)$", instance_type)
        if m and int(m.group(1)) in _G2:
            return "L4", (_G2[int(m.group(1))],)
        if instance_type.startswith("n1-"):
            return _N1_ATTACHED
    return None


def family_of(cloud: str, instance_type: str) -> str:
    """The instance family a skip note names: g5g, a3-megagpu, n1, Standard_NCads_H100_v5."""
    if cloud == "aws":
        return instance_type.split(".")[0]
    if cloud == "gcp":
        m = re.match(r"^([a-z]\d+[a-z]*-[a-z]+gpu)-", instance_type)
        return m.group(1) if m else instance_type.split("-")[0]
    return re.sub(r"^(Standard_[A-Z]+)\d+", r"\1", instance_type)


def known_types(cloud: str) -> list[Shape]:
    return [s for (c, _), s in sorted(KNOWN.items()) if c == cloud]
