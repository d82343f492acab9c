"""yzmon: consumption and visitor-flow stream monitor for the 商圈 of 渝中区, Chongqing."""

__version__ = "0.2.0"
