"""List prices and rates the run estimate uses besides the vCPU prices of ``[batch]``.

us-west-2 on-demand list prices (USD), the region of the SCEDC archive; other regions differ by
a few per cent. They size a bill, they do not predict it: the estimate prints every term so
that a wrong one is easy to spot.
"""

from __future__ import annotations

GIB = 1024**3
HOURS_PER_MONTH = 730.0
"""AWS bills GB-month prices over 730 hours."""

EBS_GP3_PER_GIB_MONTH = 0.08
"""gp3 storage, per GiB-month (the 3000 IOPS / 125 MiB/s baseline included)."""
S3_STANDARD_PER_GIB_MONTH = 0.023
"""S3 Standard storage, first 50 TB, per GiB-month."""
S3_PUT_PER_1000 = 0.005
"""S3 Standard PUT, COPY, POST, LIST requests, per 1000."""
S3_GET_PER_1000 = 0.0004
"""S3 Standard GET requests, per 1000 (paid by the requester only for requester-pays buckets;
for the AWS Open Data buckets such as scedc-pds the bucket owner pays)."""
NAT_PER_GIB = 0.045
"""NAT gateway data processing, per GiB (on top of its 0.045 USD per hour)."""
INTER_REGION_PER_GIB = 0.02
"""Data transfer between two US regions, per GiB."""

STARTUP_S_PER_CHILD = 300.0
"""Seconds an array child holds its vCPUs before c4 starts: Spot fulfilment (~1 min), boot and
ECS registration (~2 min) and the image pull (~1-2 min for the ~500 MB image)."""
BYTES_PER_RAW_SAMPLE = 1.5
"""Size of one sample in a Steim-2 miniSEED day file of broadband noise (100 Hz HH?: ~13 MB a
day)."""
AMI_SCRATCH_GIB = 500
"""Scratch volume of the Packer AMI (packer/ ``scratch_size_gb`` default), when
``batch.scratch_volume_gib`` is unset."""

BUCKET_REGIONS = {"scedc-pds": "us-west-2", "ncedc-pds": "us-east-2"}
"""Regions of the public seismic archives on S3 (AWS Open Data registry)."""
