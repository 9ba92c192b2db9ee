"""retail's persisted aggregates, one module per context; the lists every process needs."""

from retail_s2b2c.documents.catalog import Brand, Product, Sku, StockAdjustment
from retail_s2b2c.documents.orders import Order, Payment, Refund, ReturnedPayment
from retail_s2b2c.documents.stores import Binding, Store, StoreProduct
from retail_s2b2c.documents.wallet import AuditRecord, LedgerEntry, OrderPayouts, PayoutPolicy, Withdrawal

DOCUMENTS = [
    Brand,
    Product,
    Sku,
    StockAdjustment,
    Order,
    Payment,
    Refund,
    ReturnedPayment,
    Store,
    StoreProduct,
    Binding,
]
DOCUMENTS += [LedgerEntry, OrderPayouts, Withdrawal, PayoutPolicy, AuditRecord]  # the wallet
OUTBOX_DOCUMENTS = [Order, Withdrawal]
