"""groupbuy's MongoDB documents; every process builds their indexes at start."""

from groupbuy.documents.bargains import Bargain, BargainCampaign, BargainDebut, HelpQuota
from groupbuy.documents.campaigns import Campaign
from groupbuy.documents.paid_orders import PaidOrder
from groupbuy.documents.teams import Seat, Share, Team

OUTBOX_DOCUMENTS = [Team, Seat, Bargain]
DOCUMENTS = [Campaign, PaidOrder, Share, BargainCampaign, HelpQuota, BargainDebut, *OUTBOX_DOCUMENTS]

__all__ = [
    "DOCUMENTS",
    "OUTBOX_DOCUMENTS",
    "Bargain",
    "BargainCampaign",
    "BargainDebut",
    "Campaign",
    "HelpQuota",
    "PaidOrder",
    "Seat",
    "Share",
    "Team",
]
