"""`make seed`: load a demo data set through the running gateway (start it with `make run`).

Brands with products and SKUs, consumers, creators' posts, an agent chain, KOL links, a 拼团
campaign with an open team and a 砍价 bargain with a first cut — all created through the public
API, exactly as front-end apps would.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys

import httpx
from tqdm import tqdm

BRANDS = {
    "西湖茶社 West Lake Tea": [
        ("西湖龙井 Longjing", "tea", [("250g", 12800), ("500g", 23800)]),
        ("白茶饼 White tea cake", "tea", [("357g", 16800)]),
    ],
    "花间 Flora Skin": [
        ("玫瑰纯露 Rose mist", "beauty", [("100ml", 5900), ("300ml", 14900)]),
        ("保湿面霜 Moisture cream", "beauty", [("50g", 8900)]),
    ],
    "山里鲜 Mountain Fresh": [
        ("秭归脐橙 Navel oranges", "fruit", [("5斤", 3990), ("10斤", 6990)]),
        ("赣南蜜柚 Pomelo", "fruit", [("2个", 2990)]),
    ],
    "小厨 Little Kitchen": [
        ("手工辣椒酱 Chili sauce", "food", [("200g", 1990), ("200g×3", 4990)]),
        ("五常大米 Wuchang rice", "food", [("5kg", 8990)]),
    ],
    "童趣 Kiddo": [
        ("绘本套装 Picture books", "kids", [("10册", 9900)]),
        ("积木 Building blocks", "kids", [("120粒", 12900), ("300粒", 25900)]),
    ],
}
CONSUMERS = 20


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)

    def token(self, user_id: str, role: str) -> str:
        reply = self.http.post("/api/v1/dev/tokens", json={"user_id": user_id, "roles": [role]})
        reply.raise_for_status()
        return reply.json()["access_token"]

    def post(self, path: str, token: str, body: dict) -> dict:
        reply = self.http.post(f"/api/v1{path}", json=body, headers={"authorization": f"Bearer {token}"})
        if reply.status_code >= 400:
            raise RuntimeError(f"POST {path} -> {reply.status_code}: {reply.text}")
        return reply.json()


def seed_promotions(api: Api, brand: str, skus: list[dict]) -> None:
    """A live 拼团 campaign (teams of 3 at 85 %) with a team u_consumer_0 opened and shared, and a
    砍价 campaign (5 helpers, floor at 50 %) with a bargain u_consumer_1 started and cut once."""
    group_sku, bargain_sku = skus[0], skus[-1]
    price = group_sku["price"]["fen"]
    campaign = api.post(
        "/groupbuy/campaigns",
        brand,
        {"sku_id": group_sku["id"], "group_price_fen": price * 85 // 100, "team_size": 3, "publish": True},
    )
    leader = api.token("u_consumer_0", "consumer")
    team = api.post(f"/groupbuy/campaigns/{campaign['id']}/teams", leader, {})["team"]
    api.post(f"/groupbuy/teams/{team['id']}/share", leader, {})
    price = bargain_sku["price"]["fen"]
    terms = {"sku_id": bargain_sku["id"], "original_price_fen": price, "floor_price_fen": price // 2}
    bargain_campaign = api.post("/bargain/campaigns", brand, {**terms, "helpers_needed": 5})
    initiator = api.token("u_consumer_1", "consumer")
    bargain = api.post(f"/bargain/campaigns/{bargain_campaign['id']}/bargains", initiator, {})
    api.post(f"/bargain/bargains/{bargain['id']}/help", api.token("u_consumer_2", "consumer"), {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    api = Api(args.gateway)
    try:
        api.http.get("/readyz").raise_for_status()
    except httpx.HTTPError as exc:
        print(f"the gateway at {args.gateway} is not ready ({exc}); start the platform with `make run`")
        return 1
    run_tag = secrets.token_hex(2)  # brand names are unique: a second seed adds a second set
    steps = len(BRANDS) + sum(len(p) for p in BRANDS.values()) + CONSUMERS + 5
    skus: list[str] = []
    first_brand: tuple[str, list[dict]] = ("", [])  # its owner's token and its SKUs, for the promotions
    admin = api.token("u_seed_admin", "admin")
    with tqdm(total=steps, unit="step", desc="seeding") as bar:
        for i, (name, products) in enumerate(BRANDS.items()):
            owner = api.token(f"u_brand_{i}", "brand")
            brand = api.post("/brands", owner, {"name": f"{name} #{run_tag}"})
            bar.update()
            for title, category, specs in products:
                body = {
                    "brand_id": brand["id"],
                    "title": title,
                    "category": category,
                    "skus": [
                        # supply at 60 %; stores may sell between 90 % and 130 % of the suggested price
                        {
                            "spec": s,
                            "price_fen": p,
                            "supply_price_fen": p * 6 // 10,
                            "price_min_fen": p * 9 // 10,
                            "price_max_fen": p * 13 // 10,
                            "stock": rng.randint(50, 500),
                        }
                        for s, p in specs
                    ],
                }
                product = api.post("/products", owner, body)
                api.post(f"/admin/products/{product['id']}/review", admin, {"approve": True})
                skus += [s["id"] for s in product["skus"]]
                if i == 0:
                    first_brand = (owner, first_brand[1] + product["skus"])
                bar.update()
        for n in range(CONSUMERS):
            api.token(f"u_consumer_{n}", "consumer")
            bar.update()
        creator = api.token("u_creator_1", "creator")
        api.post(
            "/posts",
            creator,
            {"title": "周末下午茶 Weekend tea", "body": "龙井配橙子, 清爽!", "sku_ids": rng.sample(skus, 2)},
        )
        bar.update()
        root = api.post("/agents", api.token(f"u_agent_root_{run_tag}", "agent"), {"display_name": "总代 Lin"})
        api.post(
            "/agents",
            api.token(f"u_agent_2_{run_tag}", "agent"),
            {"display_name": "小王 Wang", "invite_code": root["invite_code"]},
        )
        bar.update()
        api.post("/guide/links", api.token("u_kol_1", "kol"), {"sku_id": rng.choice(skus)})
        bar.update()
        seed_promotions(api, *first_brand)
        bar.update(2)
    print(
        f"seeded {len(BRANDS)} brands, {len(skus)} SKUs, {CONSUMERS} consumers, a post, 2 agents, a KOL link, "
        "a 拼团 campaign with an open team and a 砍价 bargain"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
