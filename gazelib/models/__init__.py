"""Networks: U-Net backbones, LPP, Track Attention, SAN + AAB, the multi-level GazeMedSeg model."""
