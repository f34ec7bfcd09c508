-- Shopify access moved to the shared installations table (libs/common/shops).
DROP TABLE shop_credentials;
