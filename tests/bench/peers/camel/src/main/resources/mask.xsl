<?xml version="1.0" encoding="UTF-8"?>
<!-- mask.xsl — the Camel peer's masking (issue #8), same job as xborder's and the Python peer's:
     debtor and creditor names and account ids pseudonymised (x:pseudo, an HMAC-SHA-256 extension
     function in Bridge.java), contact details of debtor and creditor dropped, everything else copied. -->
<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:x="urn:xborder:bench">
  <xsl:template match="@*|node()">
    <xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy>
  </xsl:template>
  <xsl:template match="*:Dbtr/*:CtctDtls | *:Cdtr/*:CtctDtls"/>
  <xsl:template match="*:Dbtr/*:Nm/text() | *:Cdtr/*:Nm/text()">
    <xsl:value-of select="x:pseudo('party', .)"/>
  </xsl:template>
  <xsl:template match="*:DbtrAcct/*:Id/*:IBAN/text() | *:CdtrAcct/*:Id/*:IBAN/text()">
    <xsl:value-of select="x:pseudo('iban', .)"/>
  </xsl:template>
  <xsl:template match="*:DbtrAcct/*:Id/*:Othr/*:Id/text() | *:CdtrAcct/*:Id/*:Othr/*:Id/text()">
    <xsl:value-of select="x:pseudo('acct', .)"/>
  </xsl:template>
</xsl:stylesheet>
