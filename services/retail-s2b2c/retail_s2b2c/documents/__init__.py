"""retail's persisted aggregates, one module per context; the lists every process needs."""

from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.documents.orders import Order, Payment

DOCUMENTS = [Brand, Product, Sku, Order, Payment]
OUTBOX_DOCUMENTS = [Order]
