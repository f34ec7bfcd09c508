"""Bulk product and customer sync: page Shopify's catalog and send each item down the pipeline.

A job pages Shopify's Admin GraphQL API within its cost limits and turns each product or
customer into an event shaped like the products/update or customers/update webhook, stored and
published like a received webhook. The mapper makes the writer commands (so the shop's rules
apply), the writer makes the articles and customers, and the results, which carry the job's id,
count the job's progress here.
"""
