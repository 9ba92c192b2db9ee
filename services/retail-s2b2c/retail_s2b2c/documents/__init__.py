"""retail's persisted aggregates, one module per context; the lists every process needs."""

from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.documents.orders import Order, Payment
from retail_s2b2c.documents.stores import Binding, Store, StoreProduct

DOCUMENTS = [Brand, Product, Sku, Order, Payment, Store, StoreProduct, Binding]
OUTBOX_DOCUMENTS = [Order]
